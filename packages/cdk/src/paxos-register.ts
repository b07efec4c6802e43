import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table, type TableProps } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Function as LambdaFunction } from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import { type FunctionOverrides, ownFunction } from "./function.ts";

export interface PaxosRegisterProps {
  /** How many acceptors: odd, 3 to 7 (a majority must survive a failure; default 3). */
  readonly acceptors?: number;
  /** Tunes every acceptor function (memory, timeout, ...; not its code). */
  readonly acceptorProps?: FunctionOverrides;
  /** Tunes every acceptor's table. */
  readonly tableProps?: Partial<TableProps>;
  /** What happens to the tables when the stack is deleted (default RETAIN: a register's state). */
  readonly removalPolicy?: RemovalPolicy;
}

export interface Acceptor {
  readonly id: string;
  readonly fn: LambdaFunction;
  readonly table: Table;
}

/**
 * Paxos registers on Lambda: N acceptor functions, each the only writer of its own table, changed only by
 * conditional writes. Your function proposes (Proposer and setRegister / proposeOnce / readRegister of
 * @serverless-coordination/core/paxos over LambdaReplicas of core/aws): `grantPropose(fn)` lets it invoke
 * the acceptors and names them in REPLICA_IDS and REPLICA_FUNCTIONS.
 */
export class PaxosRegister extends Construct {
  readonly acceptors: Acceptor[];

  constructor(scope: Construct, id: string, props: PaxosRegisterProps = {}) {
    super(scope, id);
    const count = props.acceptors ?? 3;
    if (!Number.isInteger(count) || count < 3 || count > 7 || count % 2 === 0)
      throw new Error(
        `PaxosRegister ${this.node.path}: acceptors must be an odd number from 3 to 7, got ${count}`,
      );
    this.acceptors = Array.from({ length: count }, (_, index) => {
      const acceptorId = `Acceptor${index + 1}`;
      const table = new Table(this, `${acceptorId}Table`, {
        partitionKey: { name: "pk", type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        ...props.tableProps,
      });
      const fn = ownFunction(
        this,
        acceptorId,
        "acceptor",
        {
          timeout: Duration.seconds(3),
          environment: { REPLICA_ID: acceptorId, REPLICA_TABLE: table.tableName },
        },
        props.acceptorProps,
      );
      // Its own table, and nothing else.
      table.grantReadWriteData(fn);
      return { id: acceptorId, fn, table };
    });
  }

  /** Lets `fn` propose: invoke each acceptor (unqualified only), their ids and function names in its environment. */
  grantPropose(fn: LambdaFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: this.acceptors.map((acceptor) => acceptor.fn.functionArn),
      }),
    );
    fn.addEnvironment("REPLICA_IDS", this.acceptors.map((acceptor) => acceptor.id).join(","));
    fn.addEnvironment(
      "REPLICA_FUNCTIONS",
      this.acceptors.map((acceptor) => acceptor.fn.functionName).join(","),
    );
  }
}
