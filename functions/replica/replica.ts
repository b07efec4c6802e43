/**
 * A replica, invoked through Lambda Invoke by the Api function and the Replicator. It is the Paxos
 * acceptor (`prepare`, `accept`) and a copy of the replicated key-value store (`apply`, `read`, and on
 * the primary `commit`), each on its own items of the replica's table. Requests and replies follow the
 * replica contract (shared/contracts/replica.ts).
 */
import { type ReplicaRequest, type ReplyTo, replicaRequestSchema } from "../../shared/contracts/replica.ts";
import type { Acceptor } from "../../shared/paxos/acceptor.ts";
import type { ReplicaStore } from "../../shared/replication/replica-store.ts";

export function replicaHandler(acceptor: Acceptor, store: Pick<ReplicaStore, "commit" | "apply" | "read">) {
  const handle = async (request: ReplicaRequest): Promise<ReplyTo<ReplicaRequest>> => {
    switch (request.op) {
      case "prepare":
        return acceptor.prepare(request);
      case "accept":
        return acceptor.accept(request);
      case "commit":
        return store.commit(request.writeId, request.key, request.value);
      case "apply":
        return store.apply(request);
      case "read":
        return (await store.read(request.key)) ?? null;
    }
  };
  return (event: unknown) => handle(replicaRequestSchema.parse(event));
}
