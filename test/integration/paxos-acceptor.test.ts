/** Every acceptor rule, on DynamoDB Local, through the same class the replica Lambda uses. */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBallot } from "../../shared/paxos/ballot.ts";
import { DynamoDBAcceptor, paxosItemKey } from "../../shared/paxos/dynamodb-acceptor.ts";
import { createPkTable, isolatedDocuments } from "../support/dynamodb.ts";

const documents = isolatedDocuments();
let acceptor: DynamoDBAcceptor;
let table: string;
const b = (counter: number, proposerId = "p") => encodeBallot({ counter, proposerId });
const state = (version: number, value: unknown) => ({ version, value, origin: `o${version}` });
let n = 0;
const freshKey = () => `key-${n++}`;

beforeAll(async () => {
  table = await createPkTable(documents, "Replica");
  acceptor = new DynamoDBAcceptor(documents, table);
});

describe("prepare", () => {
  it("promises a first ballot and reports nothing accepted", async () => {
    expect(await acceptor.prepare({ op: "prepare", key: freshKey(), ballot: b(1) })).toEqual({ ok: true });
  });

  it("rejects a ballot not above its promise, answering the conflicting ballot", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(5) });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(5) })).toEqual({
      ok: false,
      conflict: b(5),
      acceptedBallot: "",
    });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(4, "z") })).toEqual({
      ok: false,
      conflict: b(5),
      acceptedBallot: "",
    });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(5, "q") })).toEqual({ ok: true });
  });

  it("answers the highest accepted ballot and state (the viral property)", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(1) });
    await acceptor.accept({ op: "accept", key, ballot: b(1), state: state(1, { a: [1, "x"] }) });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(2, "other") })).toEqual({
      ok: true,
      accepted: { ballot: b(1), state: state(1, { a: [1, "x"] }) },
    });
  });

  it("rejects a ballot below one it accepted", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(7), state: state(1, "v") });
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(6) })).toEqual({
      ok: false,
      conflict: b(7),
      acceptedBallot: b(7),
    });
  });
});

describe("accept", () => {
  it("accepts at the promised ballot (equal is fine) and stores the state", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(3) });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(3), state: state(1, "v") })).toEqual({
      ok: true,
    });
    const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) }))).Item;
    expect(item).toMatchObject({ promised: b(3), acceptedBallot: b(3) });
    expect(JSON.parse(item?.acceptedState)).toEqual(state(1, "v"));
  });

  it("rejects a ballot below its promise, answering the conflicting ballot, and changes nothing", async () => {
    const key = freshKey();
    await acceptor.prepare({ op: "prepare", key, ballot: b(9) });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(8), state: state(1, "old") })).toEqual({
      ok: false,
      conflict: b(9),
      acceptedBallot: "",
    });
    const item = (await documents.send(new GetCommand({ TableName: table, Key: paxosItemKey(key) }))).Item;
    expect(item).toEqual({ ...paxosItemKey(key), promised: b(9) });
  });

  it("rejects a ballot below one already accepted", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(4), state: state(1, "new") });
    expect(await acceptor.accept({ op: "accept", key, ballot: b(3), state: state(1, "old") })).toEqual({
      ok: false,
      conflict: b(4),
      acceptedBallot: b(4),
    });
  });

  it("records the promise of the proposer's next ballot (one round trip next time)", async () => {
    const key = freshKey();
    await acceptor.accept({ op: "accept", key, ballot: b(1), state: state(1, "a"), promise: b(2) });
    // Another proposer's ballot between the two is refused; the promised one is accepted directly.
    expect(await acceptor.prepare({ op: "prepare", key, ballot: b(1, "z") })).toEqual({
      ok: false,
      conflict: b(2),
      acceptedBallot: b(1),
    });
    expect(
      await acceptor.accept({ op: "accept", key, ballot: b(2), state: state(2, "b"), promise: b(3) }),
    ).toEqual({
      ok: true,
    });
  });
});
