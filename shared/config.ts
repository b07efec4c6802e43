/** Configuration read from the function's environment, validated once at start-up. */
import { z } from "zod";

const list = z
  .string()
  .min(1)
  .transform((value) => value.split(",").filter(Boolean));

export const replicaConfig = () =>
  z.object({ REPLICA_TABLE: z.string().min(1), REPLICA_ID: z.string().min(1) }).parse(process.env);

export const apiConfig = () =>
  z
    .object({
      REPLICA_FUNCTIONS: list,
      REPLICA_CALL_TIMEOUT_MS: z.coerce.number().int().positive().default(2500),
      PAXOS_MAX_ROUNDS: z.coerce.number().int().positive().default(20),
    })
    .parse(process.env);
