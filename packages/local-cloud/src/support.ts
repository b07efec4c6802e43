/**
 * What the local cloud runs of a template, and what it leaves out with a reason. Nothing it does not
 * know aborts start-up: an unknown resource type, a function it cannot run or a route it cannot serve is
 * skipped with one line saying why, and start-up lists them all (`npm start` prints them).
 */
import type { Template } from "./template.ts";

export interface Skipped {
  logicalId: string;
  type: string;
  reason: string;
}

/** Types the local cloud creates or serves (each may still skip one resource it cannot run). */
const EMULATED = new Set([
  "AWS::DynamoDB::Table",
  "AWS::SQS::Queue",
  "AWS::Lambda::Function",
  "AWS::Lambda::EventSourceMapping",
  "AWS::ApiGatewayV2::Api",
  "AWS::ApiGatewayV2::Route",
  "AWS::ApiGatewayV2::Integration",
  "AWS::ApiGatewayV2::RouteResponse",
  "AWS::ApiGateway::RestApi",
  "AWS::ApiGateway::Resource",
  "AWS::ApiGateway::Method",
  "AWS::ApiGateway::Stage",
  "AWS::ApiGateway::Deployment",
  "AWS::SNS::Topic",
  "AWS::SNS::Subscription",
]);

/** Types with nothing to run locally, and why that is fine. */
export const NOT_NEEDED: Record<string, string> = {
  "AWS::IAM::Role": "IAM is not enforced locally",
  "AWS::IAM::Policy": "IAM is not enforced locally",
  "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
  "AWS::Lambda::Permission": "invoke permissions are not enforced locally",
  "AWS::SQS::QueuePolicy": "queue policies are not enforced locally",
  "AWS::SNS::TopicPolicy": "topic policies are not enforced locally",
  "AWS::Logs::LogGroup": "function logs go to the terminal",
  "AWS::CDK::Metadata": "CDK metadata",
  "AWS::ApiGatewayV2::Stage": "an HTTP API serves its $default stage; a WebSocket API its stage's name",
  "AWS::ApiGateway::Account": "API Gateway account settings",
  "AWS::ApiGateway::Model": "request models are not validated locally",
  "AWS::ApiGateway::RequestValidator": "requests are not validated locally",
  "AWS::CloudWatch::Alarm": "no CloudWatch locally (metrics: GET /_local/metrics)",
  "AWS::CloudWatch::Dashboard": "no CloudWatch locally",
};

/** Resources whose type the local cloud neither runs nor needs, and those whose condition is false. */
export function unemulated(template: Template): Skipped[] {
  const skipped: Skipped[] = [];
  for (const [logicalId, resource] of Object.entries(template.body.Resources)) {
    const type = resource.Type;
    if (!template.exists(resource)) {
      let reason = `its condition ${resource.Condition} is false (AWS does not create it either)`;
      try {
        template.condition(resource.Condition!);
      } catch (error) {
        reason = `its condition ${resource.Condition} cannot be evaluated: ${(error as Error).message}`;
      }
      skipped.push({ logicalId, type, reason });
    } else if (type.startsWith("Custom::") || type === "AWS::CloudFormation::CustomResource") {
      skipped.push({ logicalId, type, reason: "custom resources do not run locally" });
    } else if (!EMULATED.has(type) && !(type in NOT_NEEDED)) {
      skipped.push({
        logicalId,
        type,
        reason: `${type} is not emulated (references to it get placeholders)`,
      });
    }
  }
  return skipped;
}
