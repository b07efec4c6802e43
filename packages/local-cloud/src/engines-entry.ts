/**
 * The engines one at a time, for tools that manage or measure them: DynamoDB Local's launch (with the
 * class archive a first start leaves behind, when there is one) and a short exercise of its operations.
 * `startEngines` in the main entry point starts both engines as the local cloud uses them.
 */
export { buildClassArchive, type DynamoDBLocalLaunch, dynamodbLaunch } from "./class-archive.ts";
export { emulatorDir, exerciseDynamoDB, freePort, localCredentials, startDynamoDBLocal } from "./engines.ts";
