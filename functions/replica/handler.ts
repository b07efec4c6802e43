/** A replica: the Paxos acceptor on its own table. Invoked by the Api function through Lambda Invoke. */
import { z } from "zod";
import { documents } from "../../shared/adapters/clients.ts";
import { replicaConfig } from "../../shared/config.ts";
import { DynamoDBAcceptor } from "../../shared/paxos/dynamodb-acceptor.ts";

const config = replicaConfig();
const acceptor = new DynamoDBAcceptor(documents, config.REPLICA_TABLE);

const ballot = z.string().regex(/^\d{15}:.+$/);
const request = z.discriminatedUnion("op", [
  z.object({ op: z.literal("prepare"), key: z.string().min(1), ballot }),
  z.object({
    op: z.literal("accept"),
    key: z.string().min(1),
    ballot,
    promise: ballot.optional(),
    state: z.object({ version: z.number().int().positive(), value: z.unknown(), origin: z.string() }),
  }),
]);

export async function handler(event: unknown) {
  const parsed = request.parse(event);
  return parsed.op === "prepare" ? acceptor.prepare(parsed) : acceptor.accept(parsed);
}
