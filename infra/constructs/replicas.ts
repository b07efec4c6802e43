import { Duration } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table } from "aws-cdk-lib/aws-dynamodb";
import type { Construct } from "constructs";
import { statefulRemovalPolicy } from "../context.ts";
import { fromRoot } from "../paths.ts";
import { AppFunction } from "./app-function.ts";

export interface Replica {
  id: string;
  fn: AppFunction;
  table: Table;
}

/** Reads and checks the `replicas` context: an odd count from 3 to 7 (a majority must survive a failure). */
export function replicaCount(scope: Construct): number {
  const raw = scope.node.tryGetContext("replicas") ?? 3;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 3 || count > 7 || count % 2 === 0) {
    throw new Error(`context "replicas" must be an odd number from 3 to 7, got ${JSON.stringify(raw)}`);
  }
  return count;
}

/**
 * `Replica1..N`: each a function with its own table, the only stateful participants. A replica may touch
 * its own table and nothing else.
 */
export function addReplicas(scope: Construct, count: number): Replica[] {
  return Array.from({ length: count }, (_, index) => {
    const id = `Replica${index + 1}`;
    const table = new Table(scope, `${id}Table`, {
      partitionKey: { name: "pk", type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: statefulRemovalPolicy(scope),
    });
    const fn = new AppFunction(scope, id, {
      entry: fromRoot("functions/replica/handler.ts"),
      timeout: Duration.seconds(3),
      environment: { REPLICA_ID: id },
    }).bindTableReadWrite(table, "REPLICA_TABLE");
    return { id, fn, table };
  });
}
