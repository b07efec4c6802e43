/**
 * A replica, invoked through Lambda Invoke by the Api function and the Replicator. It is the Paxos
 * acceptor (`prepare`, `accept`) and a copy of the replicated key-value store (`apply`, `applyBatch`,
 * `read`, and on the primary `commit`), each on its own items of the replica's table. Requests and replies follow the
 * replica contract (../contracts/replica.ts).
 */

import {
  type ApplyBatchReply,
  type ApplyBatchRequest,
  type ReplicaRequest,
  type ReplyTo,
  replicaRequestSchema,
} from "../contracts/replica.ts";
import type { Acceptor } from "../paxos/acceptor.ts";
import type { ReplicaStore } from "./replica-store.ts";

/**
 * Applies a batch of changes: the keys side by side, each key's changes in order. A change whose write
 * fails answers its error, and its key's later changes in the batch are not tried (they would be applied
 * out of order: a later delivery brings them again).
 */
async function applyBatch(
  store: Pick<ReplicaStore, "apply">,
  changes: ApplyBatchRequest["changes"],
): Promise<ApplyBatchReply["results"]> {
  const results: ApplyBatchReply["results"] = new Array(changes.length);
  const byKey = new Map<string, number[]>();
  for (const [index, change] of changes.entries())
    byKey.set(change.key, [...(byKey.get(change.key) ?? []), index]);
  await Promise.all(
    [...byKey.values()].map(async (indexes) => {
      let failed: string | undefined;
      for (const index of indexes) {
        if (failed) {
          results[index] = { error: `skipped: an earlier change of its key failed (${failed})` };
          continue;
        }
        try {
          results[index] = await store.apply(changes[index]!);
        } catch (error) {
          failed = error instanceof Error ? error.message : String(error);
          results[index] = { error: failed };
        }
      }
    }),
  );
  return results;
}

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
      case "applyBatch":
        return { results: await applyBatch(store, request.changes) };
      case "read":
        return (await store.read(request.key)) ?? null;
    }
  };
  return (event: unknown) => handle(replicaRequestSchema.parse(event));
}
