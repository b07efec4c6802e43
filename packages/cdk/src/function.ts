import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import {
  Architecture,
  type FunctionProps,
  Function as LambdaFunction,
  Runtime,
} from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import { type HandlerName, handlerCode } from "./handler-code.ts";

/** What a user may tune of a construct's own function: anything but its code and handler. */
export type FunctionOverrides = Partial<Omit<FunctionProps, "code" | "handler">>;

/**
 * One of the constructs' own functions: Node.js 24 on arm64, its pre-built handler, a log group of its
 * own (one week) and a role that may write to it and nothing else until a grant adds more.
 */
export function ownFunction(
  scope: Construct,
  id: string,
  name: HandlerName,
  defaults: {
    timeout: Duration;
    environment?: Record<string, string>;
    reservedConcurrentExecutions?: number;
  },
  overrides: FunctionOverrides = {},
): LambdaFunction {
  const logGroup =
    overrides.logGroup ??
    new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  const role =
    overrides.role ??
    new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
  if (!overrides.logGroup) (logGroup as LogGroup).grantWrite(role);
  return new LambdaFunction(scope, id, {
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    memorySize: 512,
    timeout: defaults.timeout,
    reservedConcurrentExecutions: defaults.reservedConcurrentExecutions,
    ...overrides,
    logGroup,
    role,
    code: handlerCode(name),
    handler: "index.handler",
    environment: {
      NODE_OPTIONS: "--enable-source-maps",
      // The service name in the handlers' structured logs.
      POWERTOOLS_SERVICE_NAME: id,
      ...defaults.environment,
      ...overrides.environment,
    },
  });
}

/** A positive whole number prop, or a clear synth error naming the construct and the prop. */
export function checkInteger(
  owner: string,
  prop: string,
  value: number | undefined,
  min: number,
  max: number,
): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${owner}: ${prop} must be a whole number from ${min} to ${max}, got ${value}`);
}

export { Duration };
