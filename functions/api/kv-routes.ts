import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { z } from "zod";
import { badRequest } from "../../shared/errors.ts";
import type { ReplicationCoordinator } from "../../shared/replication/coordinator.ts";
import { keySchema, valueSchema } from "../../shared/validation.ts";
import { json, parseBody, parseWith, type Route, writeIdOf } from "../commons/http.ts";

const putBody = z.object({ value: valueSchema, consistency: z.enum(["all", "primary"]) });
const getQuery = z
  .object({ consistency: z.enum(["all", "primary"]).optional(), replica: z.string().min(1).optional() })
  .strict();

const keyOf = (event: APIGatewayProxyEventV2) =>
  parseWith(keySchema, event.pathParameters?.key, "InvalidKey");

export function kvRoutes(
  coordinator: ReplicationCoordinator,
  /** The Replicator keeps the change counters; the Api only reads them. */
  readChanges: (key: string) => Promise<number>,
): Record<string, Route> {
  return {
    "PUT /kv/{key}": async (event) => {
      const key = keyOf(event);
      const { value, consistency } = parseBody(event, putBody);
      return json(200, await coordinator.put(key, value, consistency, writeIdOf(event)));
    },
    "GET /kv/{key}": async (event) => {
      const key = keyOf(event);
      const query = parseWith(getQuery, event.queryStringParameters ?? {}, "InvalidQuery");
      if (query.consistency === "all" && query.replica)
        throw badRequest("InvalidQuery", "ask for consistency=all or for one replica, not both");
      if (query.consistency === "all") return json(200, await coordinator.readAll(key));
      return json(200, await coordinator.read(key, query.replica));
    },
    "GET /kv/{key}/changes": async (event) => {
      const key = keyOf(event);
      return json(200, { key, changes: await readChanges(key) });
    },
  };
}
