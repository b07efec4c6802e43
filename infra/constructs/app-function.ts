import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Architecture, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, type NodejsFunctionProps, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";

export interface AppFunctionProps extends Omit<NodejsFunctionProps, "runtime" | "logGroup"> {
  /** Path of the handler module (TypeScript), relative to the repository root or absolute. */
  entry: string;
}

/**
 * Every Lambda of the project: the newest Node.js runtime, arm64, ESM with source maps and an explicit
 * log group. No X-Ray: without tracing the SDK clients a trace shows only the invocation; the metrics
 * and alarms (constructs/operations.ts) are what an operator watches. Grants go through the bind helpers, each of which sets the environment
 * variable the handler reads, so a permission and the name it is for are always given together.
 */
export class AppFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Our own role instead of AWSLambdaBasicExecutionRole: it may write to this function's log group only.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal("lambda.amazonaws.com") });
    logGroup.grantWrite(role);
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      logGroup,
      role,
      ...props,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: id,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        // The same bundle also runs in the local cloud on Node.js 20.
        target: "node20",
        sourceMap: true,
        minify: false,
        mainFields: ["module", "main"],
        // This project's packages from their sources (the workspace links them; their "default" export
        // is the compiled form, which a build writes for packing only).
        esbuildArgs: { "--conditions": "serverless-coordination:source" },
        banner:
          "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        ...props.bundling,
      },
    });
  }

  bindTableReadWrite(table: ITable, variable: string): this {
    table.grantReadWriteData(this);
    this.addEnvironment(variable, table.tableName);
    return this;
  }

  bindTableRead(table: ITable, variable: string): this {
    table.grantReadData(this);
    this.addEnvironment(variable, table.tableName);
    return this;
  }

  bindQueueSend(queue: IQueue, variable: string): this {
    queue.grantSendMessages(this);
    this.addEnvironment(variable, queue.queueUrl);
    return this;
  }

  /** May invoke `target` unqualified ($LATEST) only; `grantInvoke` would add every version and alias. */
  allowInvoke(target: IFunction): this {
    this.addToRolePolicy(
      new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [target.functionArn] }),
    );
    return this;
  }

  bindInvoke(target: IFunction, variable: string): this {
    this.addEnvironment(variable, target.functionName);
    return this.allowInvoke(target);
  }
}
