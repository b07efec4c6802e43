import { type Stack, Validations } from "aws-cdk-lib";

/** Every cdk-nag finding this project accepts, each with the reason it is accepted. */
export function acknowledgeNagFindings(_stack: Stack): void {}

export { Validations };
