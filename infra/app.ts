import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { CoordinationStack } from "./stack.ts";
import { STACK_NAME } from "./stack-name.ts";

export { STACK_NAME };

/** Builds the app: the stack plus cdk-nag's AWS Solutions rules, with every exception acknowledged where it arises. */
export function buildApp(app: App = new App()): { app: App; stack: CoordinationStack } {
  const stack = new CoordinationStack(app, STACK_NAME, {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
