/**
 * A replica, invoked through Lambda Invoke by the Api function and the Replicator. It is the Paxos
 * acceptor (`prepare`, `accept`) and a copy of the replicated key-value store (`apply`, `read`, and on
 * the primary `commit`), each on its own items of the replica's table.
 */
import { z } from "zod";
import { documents } from "../../shared/adapters/clients.ts";
import { replicaConfig } from "../../shared/config.ts";
import { DynamoDBAcceptor } from "../../shared/paxos/dynamodb-acceptor.ts";
import { ReplicaStore } from "../../shared/replication/replica-store.ts";
import { VERSION_PATTERN } from "../../shared/replication/version.ts";

const config = replicaConfig();
const acceptor = new DynamoDBAcceptor(documents, config.REPLICA_TABLE);
const store = new ReplicaStore(documents, config.REPLICA_TABLE, config.OUTBOX_TABLE);

const ballot = z.string().regex(/^\d{15}:.+$/);
const key = z.string().min(1);
const request = z.discriminatedUnion("op", [
  z.object({ op: z.literal("prepare"), key, ballot }),
  z.object({
    op: z.literal("accept"),
    key,
    ballot,
    promise: ballot.optional(),
    state: z.object({
      version: z.number().int().positive(),
      value: z.unknown(),
      origin: z.string(),
      recent: z.array(z.object({ version: z.number().int().positive(), origin: z.string() })).optional(),
      writeOnce: z.literal(true).optional(),
    }),
  }),
  z.object({ op: z.literal("commit"), writeId: z.string().min(1).max(128), key, value: z.unknown() }),
  z.object({ op: z.literal("apply"), key, version: z.string().regex(VERSION_PATTERN), value: z.unknown() }),
  z.object({ op: z.literal("read"), key }),
]);

export async function handler(event: unknown) {
  const parsed = request.parse(event);
  switch (parsed.op) {
    case "prepare":
      return acceptor.prepare(parsed);
    case "accept":
      return acceptor.accept(parsed);
    case "commit":
      return store.commit(parsed.writeId, parsed.key, parsed.value);
    case "apply":
      return store.apply(parsed);
    case "read":
      return (await store.read(parsed.key)) ?? null;
  }
}
