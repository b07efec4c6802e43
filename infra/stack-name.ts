/** The stack's name: its own module, so that what only needs the name does not load aws-cdk-lib. */
export const STACK_NAME = "ServerlessCoordination";
