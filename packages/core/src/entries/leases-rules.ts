/**
 * @serverless-coordination/core/leases/rules: the rules of fenced leases alone (expiry, the clock-skew
 * bound, fencing tokens), pure: no AWS SDK. The lease service itself is /leases.
 */
export * from "../leases/rules.ts";
