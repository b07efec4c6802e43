/**
 * The OpenAPI 3.1 description of a contract, generated from its zod schemas (zod's own JSON Schema
 * output, draft 2020-12, which OpenAPI 3.1 uses). Schemas with an `id` become named components.
 * docs/openapi.json is this document for the API contract (`npm run openapi`); never edit it by hand.
 */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../errors.ts";
import {
  type AnyRoute,
  ERROR_STATUS,
  errorSchema,
  isWrite,
  keyParamSchema,
  PATH_PARAM_CODES,
  pathParamsOf,
} from "./contract.ts";

type JsonSchema = Record<string, unknown>;

const DESCRIPTION =
  "Consensus (Paxos registers), a replicated key-value store with an outbox, a sticky lookup service with " +
  'leases and fencing tokens, and mesh subsetting. Every error is {"error":{"code","message",...details}}; ' +
  "each route lists the codes it may answer under its statuses. A 400 means nothing was written. A 503 " +
  "OutcomeUnknown on a write means it may or may not have taken effect and running it again could apply it " +
  "twice: read, then decide; it is kept as the Idempotency-Key's answer and replayed to every retry. Any " +
  "other 503 on a write is safe to send again with the same Idempotency-Key. Every write route " +
  "(POST, PUT, DELETE) takes an optional Idempotency-Key header (1 to 255 printable ASCII characters): the " +
  "same key and request (method, path, query string and body) answer the first outcome " +
  "(Idempotent-Replayed: true) without a second effect; a retry while the first runs answers 409 " +
  "RequestInProgress; the same key with another request answers 422 IdempotencyKeyReused; keys are kept " +
  "24 hours. Generated from packages/core/src/api/contract.ts.";

export function openApiDocument(contract: Record<string, AnyRoute>, version = "0.1.0") {
  const components: Record<string, JsonSchema> = {};
  /** JSON Schema of `schema`, its named parts moved to components and referenced from there. */
  const toSchema = (schema: z.ZodType, io: "input" | "output"): JsonSchema => {
    const {
      $schema: _,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema & {
      $defs?: Record<string, JsonSchema>;
    };
    for (const [id, definition] of Object.entries($defs ?? {})) components[id] = relink(definition);
    const id = z.globalRegistry.get(schema)?.id;
    if (id) {
      components[id] = relink(rest);
      return { $ref: `#/components/schemas/${id}` };
    }
    return relink(rest);
  };
  const errorRef = toSchema(errorSchema, "output");
  // Every path parameter refers to the Key component: make sure it is there whatever the routes use.
  toSchema(keyParamSchema, "input");

  const paths: Record<string, Record<string, unknown>> = {};
  for (const [name, route] of Object.entries(contract)) {
    const parameters: unknown[] = pathParamsOf(route.path).map((param) => ({
      name: param,
      in: "path",
      required: true,
      description: `A bad one answers 400 ${PATH_PARAM_CODES[param]}.`,
      schema: { $ref: "#/components/schemas/Key" },
    }));
    if (route.query) {
      const query = toSchema(route.query, "input") as {
        properties?: Record<string, JsonSchema>;
        required?: string[];
      };
      for (const [param, schema] of Object.entries(query.properties ?? {}))
        parameters.push({
          name: param,
          in: "query",
          required: query.required?.includes(param) ?? false,
          schema,
        });
    }
    if (isWrite(route))
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: false,
        schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
      });

    const codes = new Set<ErrorCode>(route.errors);
    for (const param of pathParamsOf(route.path)) codes.add(PATH_PARAM_CODES[param]);
    if (route.query) codes.add("InvalidQuery");
    if (route.body)
      for (const code of ["InvalidBody", "InvalidJson", "InvalidEncoding", "InvalidNumber"] as const)
        codes.add(code);
    if (isWrite(route))
      for (const code of ["InvalidIdempotencyKey", "RequestInProgress", "IdempotencyKeyReused"] as const)
        codes.add(code);
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of codes)
      byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);

    const responses: Record<string, unknown> = {
      200: {
        description: route.answers,
        content: { "application/json": { schema: toSchema(route.response, "output") } },
      },
    };
    for (const status of [...byStatus.keys()].sort()) {
      const list = byStatus.get(status)!;
      responses[status] = {
        description: list.map((code) => `${code}: ${ERROR_CODES[code]}.`).join(" "),
        content: { "application/json": { schema: errorRef } },
      };
    }
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: name,
      summary: route.summary,
      ...(route.public ? { security: [] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: toSchema(route.body, "input") } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "serverless-coordination", version, description: DESCRIPTION },
    components: {
      schemas: Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        sigv4: {
          type: "apiKey",
          name: "Authorization",
          in: "header",
          description:
            "AWS Signature Version 4 (execute-api), unless the stack is deployed with context auth=none.",
        },
      },
    },
    security: [{ sigv4: [] }],
    paths,
  };
}

/** `#/$defs/X` (zod's output) → `#/components/schemas/X`, everywhere in a schema. */
function relink(schema: JsonSchema): JsonSchema {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/$defs/', '"#/components/schemas/')) as JsonSchema;
}
