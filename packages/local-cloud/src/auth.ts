/**
 * IAM authorization (SigV4) of HTTP API routes whose AuthorizationType is AWS_IAM, as API Gateway checks
 * it: the request must carry a SigV4 Authorization header for the `execute-api` service, signed with the
 * local cloud's credentials, at most 15 minutes off, over the headers it names; otherwise 403. The
 * signature is recomputed with the SDK's own signer (@smithy/signature-v4) and compared in constant time.
 */
import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { SignatureV4 } from "@smithy/signature-v4";

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
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const previous = query[name];
    query[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  const signer = new SignatureV4({
    credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
    region: identity.region,
    service: "execute-api",
    sha256: Sha256,
    // Exactly the headers the client signed: no checksum header of the verifier's own.
    applyChecksum: false,
  });
  const expected = await signer.sign(
    {
      method: request.method ?? "GET",
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers,
      body: body.length ? new Uint8Array(body.buffer, body.byteOffset, body.byteLength) : undefined,
    },
    { signingDate: new Date(signedAt), signableHeaders: new Set(names) },
  );
  const recomputed =
    /Signature=([0-9a-f]{64})$/.exec(String(expected.headers.authorization ?? ""))?.[1] ?? "";
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

/** SHA-256 (or its HMAC under a secret) in the shape the SDK's signer takes. */
class Sha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", bytes(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : new Uint8Array(data);
