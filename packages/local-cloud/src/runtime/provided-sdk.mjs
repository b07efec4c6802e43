// Module resolution hooks of an execution environment: Lambda's Node.js runtimes provide the AWS SDK for
// JavaScript v3, so bundles leave `@aws-sdk/*` (and the `@smithy/*` packages it is built on) out and
// import them at run time. When a bundle's own directory cannot resolve them, they resolve from the local
// cloud's own dependencies, as they would from the runtime's on AWS.
export const PROVIDED = /^@(aws-sdk|smithy)\//;

export async function initialize(data) {
  providedFrom = data.parentURL;
}

let providedFrom;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!PROVIDED.test(specifier) || !providedFrom) throw error;
    return nextResolve(specifier, { ...context, parentURL: providedFrom });
  }
}
