import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { z } from "zod";
import type { Proposer } from "../../shared/paxos/proposer.ts";
import { proposeOnce, readRegister, setRegister } from "../../shared/paxos/register.ts";
import { keySchema, valueSchema } from "../../shared/validation.ts";
import { json, parseBody, parseWith, type Route, writeIdOf } from "../commons/http.ts";

const proposeBody = z.object({ value: valueSchema });
const setBody = z.object({ value: valueSchema, ifVersion: z.number().int().min(0).optional() });

const keyOf = (event: APIGatewayProxyEventV2) =>
  parseWith(keySchema, event.pathParameters?.key, "InvalidKey");

export function paxosRoutes(proposer: () => Proposer): Record<string, Route> {
  return {
    "POST /paxos/{key}": async (event) => {
      const key = keyOf(event);
      const { value } = parseBody(event, proposeBody);
      return json(200, await proposeOnce(proposer(), key, value, writeIdOf(event)));
    },
    "PUT /paxos/{key}": async (event) => {
      const key = keyOf(event);
      const { value, ifVersion } = parseBody(event, setBody);
      return json(200, await setRegister(proposer(), key, value, ifVersion, writeIdOf(event)));
    },
    "GET /paxos/{key}": async (event) => json(200, await readRegister(proposer(), keyOf(event))),
  };
}
