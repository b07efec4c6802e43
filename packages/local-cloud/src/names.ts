/** Fixed identity of the local cloud: one region, one account, as LocalStack does. */
export const LOCAL_REGION = "us-east-1";
export const LOCAL_ACCOUNT = "000000000000";
