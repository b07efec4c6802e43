/**
 * Writes docs/openapi.json from the API contract (packages/core/src/api/contract.ts): `npm run openapi`. The file is
 * generated, never edited; test/infra/contract.test.ts fails when it is stale.
 */
import { writeFileSync } from "node:fs";
import { api, openApiDocument } from "@serverless-coordination/core/api";
import { fromRoot } from "../paths.ts";

export const OPENAPI_FILE = fromRoot("docs/openapi.json");
export const renderOpenApi = () => `${JSON.stringify(openApiDocument(api), null, 2)}\n`;

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"))) {
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
