import { type Api, api, fail, pick } from "@serverless-coordination/core/api";
import { type Handlers, writeIdOf } from "@serverless-coordination/core/http";
import type { ReplicationCoordinator } from "@serverless-coordination/core/replication";

export const kvContract = pick(api, "putKv", "getKv", "kvChanges");

export function kvHandlers(
  coordinator: ReplicationCoordinator,
  /** The Replicator keeps the change counters; the Api only reads them. */
  readChanges: (key: string) => Promise<number>,
): Handlers<Pick<Api, keyof typeof kvContract>> {
  return {
    putKv: async ({ params, body }, event) =>
      coordinator.put(params.key, body.value, body.consistency, writeIdOf(event)),
    getKv: async ({ params: { key }, query }) => {
      if (query.consistency === "all" && query.replica)
        throw fail("InvalidQuery", "ask for consistency=all or for one replica, not both");
      if (query.consistency === "all") return coordinator.readAll(key);
      return coordinator.read(key, query.replica);
    },
    kvChanges: async ({ params: { key } }) => ({ key, changes: await readChanges(key) }),
  };
}
