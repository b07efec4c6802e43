import { type Api, api, CLIENT_INDEX, fail, pick } from "@serverless-coordination/core/api";
import type { Handlers } from "@serverless-coordination/core/http";
import type { LeaseService, SlotStore } from "@serverless-coordination/core/leases";
import {
  deterministicSubset,
  hash64,
  randomSubset,
  seededRandom,
  slotSubset,
} from "@serverless-coordination/core/mesh";

export const lookupContract = pick(
  api,
  "heartbeat",
  "listServers",
  "lookup",
  "move",
  "release",
  "writeState",
  "readState",
  "meshSubset",
);

/** How many clients slot subsetting plans for when the request does not say. */
export const DEFAULT_MESH_CLIENTS = 100;

/**
 * A client id for subsetting is the client's index: a number as given, else a stable hash of the name
 * into `0..clients-1` (balance then holds statistically, not exactly; see docs/mesh.md).
 */
/** A client id's index: the id itself when it is an index (`CLIENT_INDEX`), else its name's hash. */
export const clientIndex = (clientId: string, clients = 1_000_000_007) =>
  CLIENT_INDEX.test(clientId) ? Number(clientId) : Number(hash64(clientId) % BigInt(clients));

export function lookupHandlers(
  leases: LeaseService,
  /** The mesh's slot map (slot subsetting), kept next to the registrations. */
  slots: SlotStore,
  /** A move waits at most this long inside the Api, then answers 409 LeaseHeld with retryAfterMs. */
  moveWaitMs = 2000,
): Handlers<Pick<Api, keyof typeof lookupContract>> {
  return {
    heartbeat: async ({ params }) => leases.heartbeat(params.serverId),
    listServers: async () => ({ servers: await slottedServers() }),
    lookup: async ({ params }) => leases.lookup(params.sessionId),
    move: async ({ params, query, body }) =>
      leases.move(params.sessionId, body.serverId, query.wait !== "false", moveWaitMs),
    release: async ({ params, body }) => leases.release(params.sessionId, body.serverId, body.fencingToken),
    writeState: async ({ params, body }) =>
      leases.writeState(params.sessionId, body.serverId, body.fencingToken, body.state),
    readState: async ({ params }) => leases.readState(params.sessionId),
    meshSubset: async ({ params: { clientId }, query }) => {
      const { size = 10, algorithm = "slot" } = query;
      const servers = await slottedServers();
      if (algorithm === "slot") {
        const clients = query.clients ?? DEFAULT_MESH_CLIENTS;
        const index = clientIndex(clientId, clients);
        if (index >= clients)
          throw fail("InvalidClientId", `client index ${index} is not below clients=${clients}`);
        return { clientId, algorithm, size, clients, backends: slotSubset(servers, index, clients, size) };
      }
      const ids = servers.map((server) => server.serverId);
      const backends =
        algorithm === "deterministic"
          ? deterministicSubset(ids, clientIndex(clientId), size)
          : randomSubset(ids, size, seededRandom(Number(hash64(clientId) % 4_294_967_296n)));
      return { clientId, algorithm, size, backends };
    },
  };

  /** The live servers with their slots (brought up to date with the live list on the way). */
  async function slottedServers() {
    const live = await leases.liveServers();
    const slotOf = await slots.slotsFor(live.map((server) => server.serverId));
    return live.map((server) => ({ ...server, slot: slotOf.get(server.serverId)! }));
  }
}
