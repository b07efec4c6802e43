import { type Api, api, pick } from "@serverless-coordination/core/api";
import { type Handlers, writeIdOf } from "@serverless-coordination/core/http";
import type { Proposer } from "@serverless-coordination/core/paxos";
import { proposeOnce, readRegister, setRegister } from "@serverless-coordination/core/paxos";

export const paxosContract = pick(api, "proposeOnce", "setRegister", "readRegister");

export function paxosHandlers(proposer: () => Proposer): Handlers<Pick<Api, keyof typeof paxosContract>> {
  return {
    proposeOnce: async ({ params, body }, event) =>
      proposeOnce(proposer(), params.key, body.value, writeIdOf(event)),
    setRegister: async ({ params, body }, event, { rerun }) =>
      setRegister(proposer(), params.key, body.value, body.ifVersion, writeIdOf(event), { rerun }),
    readRegister: async ({ params }) => readRegister(proposer(), params.key),
  };
}
