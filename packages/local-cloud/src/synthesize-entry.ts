/** Synthesis of a stack built in code, in this process (needs aws-cdk-lib, a peer dependency). */
export { synthesizeStack } from "./synthesize.ts";
