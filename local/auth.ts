/**
 * IAM authorization (SigV4) of HTTP API routes whose AuthorizationType is AWS_IAM, as API Gateway checks
 * it: the request must carry a SigV4 Authorization header for the `execute-api` service, signed with the
 * local cloud's credentials, at most 15 minutes off, over the headers it names; otherwise 403. The
 * signature is recomputed with the SDK's own signer (shared/client/signing.ts) and compared in constant
 * time.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { signatureHeaders } from "../shared/client/signing.ts";

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 15 * 60 * 1000;

export interface LocalIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export type Verdict = { ok: true; accessKeyId: string } | { ok: false; message: string };

export async function verifySigV4(
  request: IncomingMessage,
  body: Buffer,
  identity: LocalIdentity,
  now = Date.now(),
): Promise<Verdict> {
  const header = request.headers.authorization;
  if (!header) return { ok: false, message: "Missing Authentication Token" };
  const parts = AUTHORIZATION.exec(header);
  if (!parts) return { ok: false, message: "Authorization header requires a SigV4 signature" };
  const [, accessKeyId, day, region, service, signedHeaderList, signature] = parts as unknown as string[];
  if (accessKeyId !== identity.accessKeyId)
    return { ok: false, message: "The security token included in the request is invalid." };
  if (service !== "execute-api" || region !== identity.region)
    return { ok: false, message: `Credential should be scoped to ${identity.region}/execute-api` };
  const stamp = String(request.headers["x-amz-date"] ?? "");
  const signedAt = Date.parse(
    stamp.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  if (Number.isNaN(signedAt) || !stamp.startsWith(day!))
    return { ok: false, message: "Missing or malformed X-Amz-Date" };
  if (Math.abs(now - signedAt) > MAX_SKEW_MS) return { ok: false, message: "Signature expired" };
  const names = signedHeaderList!.split(";");
  if (!names.includes("host")) return { ok: false, message: "The host header must be signed" };
  const headers: Record<string, string> = {};
  for (const name of names) {
    const value = request.headers[name];
    if (value === undefined) return { ok: false, message: `signed header ${name} is missing` };
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  // A payload hash the client declares must be the body's: the signature covers the header, not the body.
  const declared = request.headers["x-amz-content-sha256"];
  if (declared !== undefined && declared !== createHash("sha256").update(body).digest("hex"))
    return {
      ok: false,
      message: "The provided x-amz-content-sha256 header does not match what was computed.",
    };
  const host = headers.host!;
  const url = new URL(request.url ?? "/", `http://${host}`);
  const expected = await signatureHeaders(
    request.method ?? "GET",
    url,
    body.length ? body.toString("utf8") : undefined,
    headers,
    {
      region: identity.region,
      credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
      date: new Date(signedAt),
      applyChecksum: false,
      signedHeaders: new Set(names),
    },
  );
  const recomputed = /Signature=([0-9a-f]{64})$/.exec(expected.authorization ?? "")?.[1] ?? "";
  const same =
    recomputed.length === signature!.length &&
    timingSafeEqual(Buffer.from(recomputed), Buffer.from(signature!));
  return same
    ? { ok: true, accessKeyId: accessKeyId! }
    : {
        ok: false,
        message:
          "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
      };
}
