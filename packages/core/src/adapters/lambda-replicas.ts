/**
 * Replica transport through the Lambda Invoke API: each replica is a function, called with a timeout, and
 * each reply is parsed by the replica contract (packages/core/src/contracts/replica.ts) before anyone uses it.
 */
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import { parseReply, type ReplicaInvoker, type ReplicaRequest, type ReplyTo } from "../contracts/replica.ts";
import type { AcceptorRequest } from "../paxos/acceptor.ts";
import type { ReplicaTransport } from "../paxos/proposer.ts";

export class LambdaReplicas implements ReplicaTransport, ReplicaInvoker {
  readonly replicaIds: readonly string[];
  private readonly functionNames: Map<string, string>;

  private readonly lambda: Pick<LambdaClient, "send">;
  private readonly callTimeoutMs: number;

  constructor(
    lambda: Pick<LambdaClient, "send">,
    /** Replica ids (Replica1, ...) in replica order, the first being the primary. */
    ids: readonly string[],
    /** Their function names (or ARNs), in the same order. */
    functionNames: readonly string[],
    callTimeoutMs: number,
  ) {
    this.lambda = lambda;
    this.callTimeoutMs = callTimeoutMs;
    if (ids.length !== functionNames.length)
      throw new Error(`${ids.length} replica ids but ${functionNames.length} replica functions`);
    this.replicaIds = ids;
    this.functionNames = new Map(ids.map((id, index) => [id, functionNames[index]!]));
  }

  // biome-ignore lint/suspicious/noExplicitAny: the overloads of ReplicaTransport.call share this body.
  call(replicaId: string, request: AcceptorRequest): Promise<any> {
    return this.invoke(replicaId, request);
  }

  /** Invokes a replica with any of its operations; rejects on a function error, a broken reply or the timeout. */
  async invoke<R extends ReplicaRequest>(
    replicaId: string,
    request: R,
    timeoutMs = this.callTimeoutMs,
  ): Promise<ReplyTo<R>> {
    const functionName = this.functionNames.get(replicaId);
    if (!functionName) throw new Error(`no replica ${replicaId}`);
    const response = await this.lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: Buffer.from(JSON.stringify(request)) }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
    const payload = response.Payload ? Buffer.from(response.Payload).toString("utf8") : "null";
    if (response.FunctionError) throw new Error(`replica ${replicaId} failed: ${payload}`);
    return parseReply(replicaId, request, JSON.parse(payload));
  }
}
