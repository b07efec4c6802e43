import { type Api, api, pick } from "../../shared/api/contract.ts";
import type { Proposer } from "../../shared/paxos/proposer.ts";
import { proposeOnce, readRegister, setRegister } from "../../shared/paxos/register.ts";
import { type Handlers, writeIdOf } from "../commons/http.ts";

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
