/**
 * The stack an e2e test talks to: a deployed one when E2E_BASE_URL is set (LocalStack or AWS), else the
 * project's own stack started on the local cloud for this test file.
 */

import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { signedFetch } from "@serverless-coordination/client";
import { LOCAL_REGION, localCredentials } from "@serverless-coordination/local-cloud";
import { buildApp } from "../../infra/app.ts";
import demoPanels from "../../infra/console/plugin.ts";
import { registerFetch } from "./http.ts";
import { startTestCloud, type TestCloud } from "./local-cloud.ts";

export interface E2ETarget {
  baseUrl: string;
  /** fetch that signs requests (SigV4), as the API's IAM authorization requires. */
  fetch: typeof fetch;
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
  if (deployed) {
    // The caller's own AWS credentials (the SDK's chain), for the deployed stack's region.
    const call = signedFetch({
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
      credentials: defaultProvider(),
    });
    const baseUrl = deployed.replace(/\/$/, "");
    registerFetch(baseUrl, call);
    return { baseUrl, fetch: call, stop: async () => {} };
  }
  const cloud = await startTestCloud(
    (app) => {
      for (const [key, value] of Object.entries(context)) app.node.setContext(key, value);
      return buildApp(app).stack;
    },
    { consolePlugins: [demoPanels] },
  );
  // Every environment of every function started before the tests, as provisioned concurrency would: a
  // test is about the system's behaviour, and cold starts on a loaded two-core machine can outlast the
  // Api's replica call timeout.
  await Promise.all(cloud.functions.map((fn) => fn.prewarm(Number.POSITIVE_INFINITY)));
  const call = signedFetch({ region: LOCAL_REGION, credentials: localCredentials(cloud.accessKeyId) });
  registerFetch(cloud.apiUrl, call);
  return { baseUrl: cloud.apiUrl, fetch: call, cloud, stop: () => cloud.stop() };
}
