/** Replica transport through the Lambda Invoke API: each replica is a function, called with a timeout. */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import type { AcceptorRequest } from "../paxos/acceptor.ts";
import type { ReplicaTransport } from "../paxos/proposer.ts";

export class LambdaReplicas implements ReplicaTransport {
  readonly replicaIds: readonly string[];

  constructor(
    private readonly lambda: LambdaClient,
    /** Function names (or ARNs) of the replicas, in replica order. */
    functionNames: readonly string[],
    private readonly callTimeoutMs: number,
  ) {
    this.replicaIds = functionNames;
  }

  // biome-ignore lint/suspicious/noExplicitAny: the overloads of ReplicaTransport.call share this body.
  async call(replicaId: string, request: AcceptorRequest): Promise<any> {
    const response = await this.lambda.send(
      new InvokeCommand({ FunctionName: replicaId, Payload: Buffer.from(JSON.stringify(request)) }),
      { abortSignal: AbortSignal.timeout(this.callTimeoutMs) },
    );
    const payload = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "null";
    if (response.FunctionError) throw new Error(`replica ${replicaId} failed: ${payload}`);
    return JSON.parse(payload);
  }
}
