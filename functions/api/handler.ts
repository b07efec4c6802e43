import { Logger } from "@aws-lambda-powertools/logger";
import { json, router } from "../commons/http.ts";

const logger = new Logger();

export const handler = router(
  {
    "GET /health": async () => json(200, { status: "ok" }),
  },
  logger,
);
