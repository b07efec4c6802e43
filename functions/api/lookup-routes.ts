import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { z } from "zod";
import { badRequest } from "../../shared/errors.ts";
import type { LeaseService } from "../../shared/leases/service.ts";
import { slotSubset } from "../../shared/mesh/balanced.ts";
import { hash64 } from "../../shared/mesh/hashing.ts";
import { seededRandom } from "../../shared/mesh/random.ts";
import type { SlotStore } from "../../shared/mesh/slot-store.ts";
import { deterministicSubset, randomSubset } from "../../shared/mesh/subsetting.ts";
import { keySchema, valueSchema } from "../../shared/validation.ts";
import { json, parseBody, parseWith, type Route } from "../commons/http.ts";

const idOf = (event: APIGatewayProxyEventV2, name: string, code: string) =>
  parseWith(keySchema, event.pathParameters?.[name], code);

const serverIdSchema = keySchema;
const token = z.number().int().positive();
const moveBody = z.object({ serverId: serverIdSchema });
const moveQuery = z.object({ wait: z.enum(["true", "false"]).optional() }).strict();
const releaseBody = z.object({ serverId: serverIdSchema, fencingToken: token });
const stateBody = z.object({ serverId: serverIdSchema, fencingToken: token, state: valueSchema });
const subsetQuery = z
  .object({
    size: z.coerce.number().int().min(1).max(1000).optional(),
    clients: z.coerce.number().int().min(1).max(10_000).optional(),
    algorithm: z.enum(["slot", "deterministic", "random"]).optional(),
  })
  .strict();

/** How many clients slot subsetting plans for when the request does not say. */
export const DEFAULT_MESH_CLIENTS = 100;

/**
 * A client id for subsetting is the client's index: a number as given, else a stable hash of the name
 * into `0..clients-1` (balance then holds statistically, not exactly; see docs/mesh.md).
 */
export const clientIndex = (clientId: string, clients = 1_000_000_007) =>
  /^\d{1,15}$/.test(clientId) ? Number(clientId) : Number(hash64(clientId) % BigInt(clients));

export function lookupRoutes(
  leases: LeaseService,
  /** The mesh's slot map (slot subsetting), kept next to the registrations. */
  slots: SlotStore,
  /** A move waits at most this long inside the Api, then answers 409 LeaseHeld with retryAfterMs. */
  moveWaitMs = 2000,
): Record<string, Route> {
  return {
    "POST /servers/{serverId}/heartbeat": async (event) => {
      const serverId = idOf(event, "serverId", "InvalidServerId");
      return json(200, await leases.heartbeat(serverId));
    },
    "GET /servers": async () => json(200, { servers: await slottedServers() }),
    "GET /sessions/{sessionId}": async (event) =>
      json(200, await leases.lookup(idOf(event, "sessionId", "InvalidSessionId"))),
    "PUT /sessions/{sessionId}": async (event) => {
      const sessionId = idOf(event, "sessionId", "InvalidSessionId");
      const { serverId } = parseBody(event, moveBody);
      const { wait } = parseWith(moveQuery, event.queryStringParameters ?? {}, "InvalidQuery");
      return json(200, await leases.move(sessionId, serverId, wait !== "false", moveWaitMs));
    },
    "DELETE /sessions/{sessionId}/lease": async (event) => {
      const sessionId = idOf(event, "sessionId", "InvalidSessionId");
      const { serverId, fencingToken } = parseBody(event, releaseBody);
      return json(200, await leases.release(sessionId, serverId, fencingToken));
    },
    "PUT /sessions/{sessionId}/state": async (event) => {
      const sessionId = idOf(event, "sessionId", "InvalidSessionId");
      const { serverId, fencingToken, state } = parseBody(event, stateBody);
      return json(200, await leases.writeState(sessionId, serverId, fencingToken, state));
    },
    "GET /sessions/{sessionId}/state": async (event) =>
      json(200, await leases.readState(idOf(event, "sessionId", "InvalidSessionId"))),
    "GET /mesh/subsets/{clientId}": async (event) => {
      const clientId = idOf(event, "clientId", "InvalidClientId");
      const query = parseWith(subsetQuery, event.queryStringParameters ?? {}, "InvalidQuery");
      const { size = 10, algorithm = "slot" } = query;
      const servers = await slottedServers();
      if (algorithm === "slot") {
        const clients = query.clients ?? DEFAULT_MESH_CLIENTS;
        const index = clientIndex(clientId, clients);
        if (index >= clients)
          throw badRequest("InvalidClientId", `client index ${index} is not below clients=${clients}`);
        return json(200, {
          clientId,
          algorithm,
          size,
          clients,
          backends: slotSubset(servers, index, clients, size),
        });
      }
      const ids = servers.map((server) => server.serverId);
      const backends =
        algorithm === "deterministic"
          ? deterministicSubset(ids, clientIndex(clientId), size)
          : randomSubset(ids, size, seededRandom(Number(hash64(clientId) % 4_294_967_296n)));
      return json(200, { clientId, algorithm, size, backends });
    },
  };

  /** The live servers with their slots (brought up to date with the live list on the way). */
  async function slottedServers() {
    const live = await leases.liveServers();
    const slotOf = await slots.slotsFor(live.map((server) => server.serverId));
    return live.map((server) => ({ ...server, slot: slotOf.get(server.serverId)! }));
  }
}
