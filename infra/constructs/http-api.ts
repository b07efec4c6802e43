import { CfnOutput, RemovalPolicy, Validations } from "aws-cdk-lib";
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

export interface RouteSpec {
  method: HttpMethod;
  path: string;
  /** The function serving this route, when not the API's default handler. */
  handler?: IFunction;
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
      this.api.addRoutes({ path: route.path, methods: [route.method], integration });
    }
    Validations.of(this.api).acknowledge({
      id: "AwsSolutions-APIG4",
      reason:
        "A reference API meant to be called by tests and examples; put an IAM or JWT authorizer in front of it before real traffic.",
    });
    new CfnOutput(scope, "ApiUrl", { value: this.stage.url });
  }
}

export { HttpMethod };
