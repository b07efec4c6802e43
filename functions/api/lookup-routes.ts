import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { z } from "zod";
import type { LeaseService } from "../../shared/leases/service.ts";
import { hash64 } from "../../shared/mesh/hashing.ts";
import { deterministicSubset } from "../../shared/mesh/subsetting.ts";
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
const subsetQuery = z.object({ size: z.coerce.number().int().min(1).max(1000).optional() }).strict();

/**
 * A client id for deterministic subsetting is the client's index: a number as given, else a stable
 * hash of the name (balance then holds statistically, not exactly; see docs/mesh.md).
 */
export const clientIndex = (clientId: string) =>
  /^\d{1,15}$/.test(clientId) ? Number(clientId) : Number(hash64(clientId) % 1_000_000_007n);

export function lookupRoutes(
  leases: LeaseService,
  /** A move waits at most this long inside the Api, then answers 409 LeaseHeld with retryAfterMs. */
  moveWaitMs = 2000,
): Record<string, Route> {
  return {
    "POST /servers/{serverId}/heartbeat": async (event) => {
      const serverId = idOf(event, "serverId", "InvalidServerId");
      return json(200, await leases.heartbeat(serverId));
    },
    "GET /servers": async () => json(200, { servers: await leases.liveServers() }),
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
      const { size = 10 } = parseWith(subsetQuery, event.queryStringParameters ?? {}, "InvalidQuery");
      const servers = (await leases.liveServers()).map((server) => server.serverId);
      return json(200, {
        clientId,
        size,
        backends: deterministicSubset(servers, clientIndex(clientId), size),
      });
    },
  };
}
