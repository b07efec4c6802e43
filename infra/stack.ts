import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { AppFunction } from "./constructs/app-function.ts";
import { AppHttpApi, HttpMethod } from "./constructs/http-api.ts";
import { fromRoot } from "./paths.ts";

/** The serverless-coordination application: one HTTP API served by the `Api` function. */
export class CoordinationStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const api = new AppFunction(this, "Api", { entry: fromRoot("functions/api/handler.ts") });

    new AppHttpApi(this, "Http", {
      handler: api,
      routes: [{ method: HttpMethod.GET, path: "/health" }],
    });
  }
}
