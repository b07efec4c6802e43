/**
 * The stack an e2e test talks to: a deployed one when E2E_BASE_URL is set (LocalStack or AWS), else the
 * project's own stack started on the local cloud for this test file.
 */
import { buildApp } from "../../infra/app.ts";
import { startTestCloud, type TestCloud } from "./local-cloud.ts";

export interface E2ETarget {
  baseUrl: string;
  /** Present only on the local cloud: fault injection and direct engine access. */
  cloud?: TestCloud;
  stop(): Promise<void>;
}

/**
 * `context` is CDK context for the local stack (e.g. short leases); a deployed stack must have been
 * deployed with the same (`cdk deploy -c leaseDurationMs=3000 -c maxClockSkewMs=300`).
 */
export async function startTarget(context: Record<string, unknown> = {}): Promise<E2ETarget> {
  const deployed = process.env.E2E_BASE_URL;
  if (deployed) return { baseUrl: deployed.replace(/\/$/, ""), stop: async () => {} };
  const cloud = await startTestCloud((app) => {
    for (const [key, value] of Object.entries(context)) app.node.setContext(key, value);
    return buildApp(app).stack;
  });
  return { baseUrl: cloud.apiUrl, cloud, stop: () => cloud.stop() };
}
