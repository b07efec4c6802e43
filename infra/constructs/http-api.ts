import type { AnyRoute } from "@serverless-coordination/core/api";
import { CfnOutput, RemovalPolicy, Validations } from "aws-cdk-lib";
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface RouteSpec {
  method: HttpMethod;
  path: string;
  /** The function serving this route, when not the API's default handler. */
  handler?: IFunction;
  /** Served without authorization even when the API has an authorizer (a health check). */
  public?: boolean;
}

/** The API Gateway routes of a contract: one per route, public where the contract says so. */
export function stackRoutes(contract: Record<string, AnyRoute>): RouteSpec[] {
  return Object.values(contract).map((route) => ({
    method: HttpMethod[route.method],
    path: route.path,
    ...(route.public ? { public: true } : {}),
  }));
}

/**
 * An HTTP API (API Gateway v2, payload format 2.0) with an access-logged `$default` stage; every route
 * is served by the default handler unless it names its own.
 */
export class AppHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;

  constructor(
    scope: Construct,
    id: string,
    props: {
      handler: IFunction;
      routes: RouteSpec[];
      /** The stage's throttling: steady requests per second and burst. */
      throttle?: { rateLimit: number; burstLimit: number };
      /** Authorizes every route that is not `public`; without one, every route is open. */
      authorizer?: IHttpRouteAuthorizer;
    },
  ) {
    super(scope, id);
    this.api = new HttpApi(this, "Api", { createDefaultStage: false });
    const accessLogs = new LogGroup(this, "AccessLogs", {
      retention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, "DefaultStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs) },
    });
    const integrations = new Map<IFunction, HttpLambdaIntegration>();
    const integrationFor = (handler: IFunction) => {
      let integration = integrations.get(handler);
      if (!integration) {
        integration = new HttpLambdaIntegration(`Handler${integrations.size}`, handler);
        integrations.set(handler, integration);
      }
      return integration;
    };
    for (const route of props.routes) {
      const integration = integrationFor(route.handler ?? props.handler);
      const added = this.api.addRoutes({
        path: route.path,
        methods: [route.method],
        integration,
        ...(props.authorizer && !route.public ? { authorizer: props.authorizer } : {}),
      });
      if (props.authorizer && route.public)
        for (const open of added)
          Validations.of(open).acknowledge({
            id: "AwsSolutions-APIG4",
            reason: "A health check, open by design; it reads nothing and writes nothing.",
          });
    }
    if (!props.authorizer)
      Validations.of(this.api).acknowledge({
        id: "AwsSolutions-APIG4",
        reason:
          "Deployed with context auth=none on purpose: every route is open (see docs/api.md, Security model).",
      });
    new CfnOutput(scope, "ApiUrl", { value: this.stage.url });
  }
}

export { HttpMethod };
