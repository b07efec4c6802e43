// The order API: POST /orders/{id} writes the order and its outbox record in one transaction; GET reads
// it; GET and PUT /config read and compare-and-set the configuration register.
import { randomUUID } from "node:crypto";
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { documents, LambdaReplicas, lambda } from "@serverless-coordination/core/aws";
import { outboxRecord } from "@serverless-coordination/core/outbox";
import { Proposer, readRegister, setRegister } from "@serverless-coordination/core/paxos";
import { nextVersion } from "@serverless-coordination/core/replication";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";

const env = process.env as Record<string, string>;
const split = (value: string) => value.split(",");
const proposer = new Proposer({
  proposerId: randomUUID(),
  transport: new LambdaReplicas(lambda, split(env.REPLICA_IDS), split(env.REPLICA_FUNCTIONS), 2500),
});
const answer = (statusCode: number, body: unknown): APIGatewayProxyResultV2 => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  const body = event.body ? JSON.parse(event.body) : {};
  const id = event.pathParameters?.id ?? "";
  if (event.routeKey === "POST /orders/{id}") {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id) || typeof body.amount !== "number")
      return answer(400, { error: { code: "InvalidOrder", message: "an order id and a numeric amount" } });
    const order = { id, amount: body.amount };
    const change = { key: id, version: nextVersion(undefined, Date.now()), value: order };
    try {
      await documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: env.ORDERS_TABLE,
                Item: { pk: id, ...order },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            { Put: { TableName: env.OUTBOX_TABLE, Item: outboxRecord(randomUUID(), change) } },
          ],
        }),
      );
    } catch (error) {
      if (error instanceof TransactionCanceledException)
        return answer(409, { error: { code: "OrderExists", message: `order ${id} exists` } });
      throw error;
    }
    return answer(201, order);
  }
  if (event.routeKey === "GET /orders/{id}") {
    const { Item } = await documents.send(new GetCommand({ TableName: env.ORDERS_TABLE, Key: { pk: id } }));
    return Item ? answer(200, Item) : answer(404, { error: { code: "NotFound", message: id } });
  }
  if (event.routeKey === "PUT /config") {
    try {
      return answer(200, await setRegister(proposer, "config", body.value, body.ifVersion));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "VersionConflict")
        return answer(409, { error: { code, message: (error as Error).message } });
      throw error;
    }
  }
  return answer(200, await readRegister(proposer, "config"));
}
