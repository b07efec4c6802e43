/**
 * The simulations' DynamoDB model against DynamoDB Local: the same operation sequences, the same answers
 * (items, ConditionalCheckFailedException with the old item, TransactionCanceledException with its
 * reasons, ReturnValues, pagination, key-only index projections, ClientRequestToken idempotency), so the
 * model cannot drift from the engine where our code depends on it. Fault injection is off here: faults
 * are what the model adds on purpose.
 */
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoDBModel } from "../simulation/dynamodb-model.ts";
import { isolatedDocuments } from "../support/dynamodb.ts";

const engine = isolatedDocuments();
const TABLE = "Items";
const OTHER = "Others";

beforeAll(async () => {
  await engine.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "owner", AttributeType: "S" },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: "byOwner",
          KeySchema: [{ AttributeName: "owner", KeyType: "HASH" }],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await engine.send(
    new CreateTableCommand({
      TableName: OTHER,
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
});

const newModel = () =>
  new DynamoDBModel(
    [
      {
        name: TABLE,
        hashKey: "pk",
        indexes: [{ name: "byOwner", hashKey: "owner", projection: "KEYS_ONLY" }],
      },
      { name: OTHER, hashKey: "id" },
    ],
    { now: () => 0 },
  );

type Command = object;
type Sender = { send: (command: never) => Promise<unknown> };

/** What a caller can observe of an answer: the result, or the error's name, reasons and old item. */
async function observe(target: Sender, command: Command) {
  try {
    const result = (await target.send(command as never)) as Record<string, unknown>;
    // ScannedCount of a Scan counts the other tests' items in the shared table too: not comparable.
    const { $metadata: _, ConsumedCapacity: __, ScannedCount: ___, ...rest } = result;
    // Neither a Query of a hash key nor a BatchGet promises an order.
    const sorted = (items: unknown[]) =>
      [...items].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    if (Array.isArray(rest.Items)) rest.Items = sorted(rest.Items);
    if (rest.Responses)
      rest.Responses = Object.fromEntries(
        Object.entries(rest.Responses as Record<string, unknown[]>).map(([table, items]) => [
          table,
          sorted(items),
        ]),
      );
    return { ok: rest };
  } catch (error) {
    const failure = error as {
      name: string;
      Item?: Record<string, never>;
      CancellationReasons?: Array<{ Code: string; Item?: Record<string, never> }>;
    };
    return {
      error: failure.name,
      item: failure.Item ? unmarshall(failure.Item) : undefined,
      reasons: failure.CancellationReasons?.map((reason) => ({
        code: reason.Code,
        item: reason.Item ? unmarshall(reason.Item) : undefined,
      })),
    };
  }
}

let run = 0;

/** Runs the commands built for a fresh key prefix on both, answer by answer. */
async function compare(build: (prefix: string) => Command[]) {
  const model = newModel();
  const prefix = `r${run++}-${Date.now()}-`;
  const commands = build(prefix);
  const fromEngine = [];
  const fromModel = [];
  for (const command of commands) {
    fromEngine.push(await observe(engine, command));
    fromModel.push(await observe(model, command));
  }
  expect(fromModel).toEqual(fromEngine);
  return fromEngine;
}

describe("the DynamoDB model answers as DynamoDB Local does", () => {
  it("conditional puts, updates and deletes, with the old item on a failed condition", async () => {
    const answers = await compare((p) => [
      new PutCommand({
        TableName: TABLE,
        Item: { pk: `${p}a`, n: 1, s: "x" },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
      new PutCommand({
        TableName: TABLE,
        Item: { pk: `${p}a`, n: 2 },
        ConditionExpression: "attribute_not_exists(pk)",
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: `${p}a` },
        UpdateExpression: "SET n = n + :one, #t = if_not_exists(#t, :t) REMOVE s ADD c :one",
        ConditionExpression: "n = :n AND (attribute_exists(s) OR #t = :t) AND NOT n > :big",
        ExpressionAttributeNames: { "#t": "t" },
        ExpressionAttributeValues: { ":one": 1, ":n": 1, ":t": "first", ":big": 100 },
        ReturnValues: "ALL_NEW",
      }),
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: `${p}a` },
        UpdateExpression: "SET n = :n",
        ConditionExpression: "n < :n",
        ExpressionAttributeValues: { ":n": 2 },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: `${p}b` },
        UpdateExpression: "SET v = :v",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":v": "x" },
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      }),
      new UpdateCommand({
        TableName: TABLE,
        Key: { pk: `${p}b` },
        UpdateExpression: "SET v = :v, nested = :nested",
        ExpressionAttributeValues: { ":v": "é😀", ":nested": { a: [1, "two", null, true] } },
        ReturnValues: "ALL_OLD",
      }),
      new GetCommand({ TableName: TABLE, Key: { pk: `${p}b` }, ConsistentRead: true }),
      new DeleteCommand({
        TableName: TABLE,
        Key: { pk: `${p}b` },
        ConditionExpression: "v <> :v",
        ExpressionAttributeValues: { ":v": "é😀" },
      }),
      new DeleteCommand({ TableName: TABLE, Key: { pk: `${p}b` }, ReturnValues: "ALL_OLD" }),
      new GetCommand({ TableName: TABLE, Key: { pk: `${p}b` }, ConsistentRead: true }),
      new GetCommand({ TableName: TABLE, Key: { pk: `${p}a` }, ConsistentRead: true }),
    ]);
    expect(answers.map((answer) => ("error" in answer ? answer.error : "ok"))).toContain(
      "ConditionalCheckFailedException",
    );
  });

  /** Version 1 → 2 of item a, conditioned on version 1 (the condition's old item asked for). */
  const bumpVersion = (p: string) => ({
    Update: {
      TableName: TABLE,
      Key: { pk: `${p}a` },
      UpdateExpression: "SET version = :two",
      ConditionExpression: "version = :one",
      ExpressionAttributeValues: { ":one": 1, ":two": 2 },
      ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const,
    },
  });
  const createOther = (p: string) => ({
    Put: { TableName: OTHER, Item: { id: `${p}o` }, ConditionExpression: "attribute_not_exists(id)" },
  });

  it("transactional reads: each item in the request's order, an empty answer for a missing one", async () => {
    await compare((p) => [
      new PutCommand({ TableName: TABLE, Item: { pk: `${p}a`, version: 1 } }),
      new PutCommand({ TableName: OTHER, Item: { id: `${p}o`, note: "x" } }),
      new TransactGetCommand({
        TransactItems: [
          { Get: { TableName: OTHER, Key: { id: `${p}o` } } },
          { Get: { TableName: TABLE, Key: { pk: `${p}missing` } } },
          { Get: { TableName: TABLE, Key: { pk: `${p}a` } } },
        ],
      }),
    ]);
  });

  it("transactions: all or nothing, reasons per action, ClientRequestToken idempotency", async () => {
    await compare((p) => [
      new PutCommand({ TableName: TABLE, Item: { pk: `${p}a`, version: 1 } }),
      new TransactWriteCommand({
        TransactItems: [
          bumpVersion(p),
          createOther(p),
          {
            ConditionCheck: {
              TableName: TABLE,
              Key: { pk: `${p}missing` },
              ConditionExpression: "attribute_exists(pk)",
              ReturnValuesOnConditionCheckFailure: "ALL_OLD",
            },
          },
        ],
      }),
      new GetCommand({ TableName: OTHER, Key: { id: `${p}o` }, ConsistentRead: true }),
      new TransactWriteCommand({
        TransactItems: [bumpVersion(p), createOther(p)],
        ClientRequestToken: `${p}token`,
      }),
      // The same token and request again: succeeds without applying twice.
      new TransactWriteCommand({
        TransactItems: [bumpVersion(p), createOther(p)],
        ClientRequestToken: `${p}token`,
      }),
      // The same token with another request.
      new TransactWriteCommand({
        TransactItems: [{ Put: { TableName: OTHER, Item: { id: `${p}other` } } }],
        ClientRequestToken: `${p}token`,
      }),
      // Without a token the retry's condition fails, with the item as it now is.
      new TransactWriteCommand({ TransactItems: [bumpVersion(p)] }),
      new GetCommand({ TableName: TABLE, Key: { pk: `${p}a` }, ConsistentRead: true }),
    ]);
  });

  it("queries a key-only index and pages scans and queries alike", async () => {
    await compare((p) => [
      ...Array.from(
        { length: 5 },
        (_, i) =>
          new PutCommand({
            TableName: TABLE,
            Item: { pk: `${p}${i}`, owner: `${p}s`, big: "x".repeat(100), i },
          }),
      ),
      new PutCommand({ TableName: TABLE, Item: { pk: `${p}other`, owner: `${p}t` } }),
      new PutCommand({ TableName: TABLE, Item: { pk: `${p}none` } }),
      new QueryCommand({
        TableName: TABLE,
        IndexName: "byOwner",
        KeyConditionExpression: "#o = :o",
        ExpressionAttributeNames: { "#o": "owner" },
        ExpressionAttributeValues: { ":o": `${p}s` },
      }),
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": `${p}3` },
        ConsistentRead: true,
      }),
      new QueryCommand({
        TableName: TABLE,
        IndexName: "byOwner",
        KeyConditionExpression: "#o = :o",
        ExpressionAttributeNames: { "#o": "owner" },
        ExpressionAttributeValues: { ":o": `${p}s` },
        ConsistentRead: true,
      }),
      new ScanCommand({
        TableName: TABLE,
        FilterExpression: "#o BETWEEN :low AND :high AND begins_with(pk, :p)",
        ExpressionAttributeNames: { "#o": "owner" },
        ExpressionAttributeValues: { ":low": `${p}s`, ":high": `${p}t`, ":p": p },
        ConsistentRead: true,
      }),
      new BatchGetCommand({
        RequestItems: {
          [TABLE]: { Keys: [{ pk: `${p}1` }, { pk: `${p}missing` }, { pk: `${p}4` }], ConsistentRead: true },
        },
      }),
    ]);
    // Paging: every item exactly once through LastEvaluatedKey, on both (page sizes differ by engine).
    const model = newModel();
    const prefix = `page-${Date.now()}-`;
    for (let i = 0; i < 7; i++) {
      const put = new PutCommand({ TableName: OTHER, Item: { id: `${prefix}${i}` } });
      await engine.send(put);
      await model.send(put);
    }
    for (const target of [engine, model] as Sender[]) {
      const seen: string[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = (await target.send(
          new ScanCommand({
            TableName: OTHER,
            Limit: 3,
            ExclusiveStartKey: start,
            ConsistentRead: true,
          }) as never,
        )) as { Items?: Array<{ id: string }>; LastEvaluatedKey?: Record<string, unknown> };
        expect(page.Items!.length).toBeLessThanOrEqual(3);
        seen.push(...page.Items!.map((item) => item.id).filter((id) => id.startsWith(prefix)));
        start = page.LastEvaluatedKey;
      } while (start);
      expect(seen.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `${prefix}${i}`));
    }
  });

  it("agrees on random sequences of conditional updates (property)", async () => {
    const op = fc.record({
      key: fc.constantFrom("a", "b"),
      kind: fc.constantFrom("put", "update", "delete", "get"),
      n: fc.integer({ min: 0, max: 3 }),
      condition: fc.constantFrom(
        undefined,
        "attribute_not_exists(pk)",
        "attribute_exists(pk)",
        "n < :n",
        "n = :n OR attribute_not_exists(n)",
        "NOT (n >= :n)",
      ),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        await compare((p) =>
          ops.map(({ key, kind, n, condition }) => {
            const Key = { pk: `${p}${key}` };
            const values = condition?.includes(":n") ? { ExpressionAttributeValues: { ":n": n } } : {};
            const guard = condition
              ? { ConditionExpression: condition, ReturnValuesOnConditionCheckFailure: "ALL_OLD" as const }
              : {};
            if (kind === "put")
              return new PutCommand({ TableName: TABLE, Item: { ...Key, n }, ...guard, ...values });
            if (kind === "delete") return new DeleteCommand({ TableName: TABLE, Key, ...guard, ...values });
            if (kind === "get") return new GetCommand({ TableName: TABLE, Key, ConsistentRead: true });
            return new UpdateCommand({
              TableName: TABLE,
              Key,
              UpdateExpression: "SET m = :m ADD n :one",
              ...guard,
              ExpressionAttributeValues: {
                ":m": `v${n}`,
                ":one": 1,
                ...(condition?.includes(":n") ? { ":n": n } : {}),
              },
            });
          }),
        );
      }),
      { numRuns: 40, seed: 42 },
    );
  }, 60_000);
});
