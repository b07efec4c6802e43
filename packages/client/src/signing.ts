/**
 * SigV4 signing of requests to the HTTP API, whose routes (all but /health) require IAM authorization by
 * default (CDK context `auth`). The signer is the AWS SDK's own (@smithy/signature-v4) with Node's
 * SHA-256; credentials are static ones (the local cloud's) or any provider of the SDK's credential chain
 * (e.g. `defaultProvider()` from @aws-sdk/credential-provider-node for a deployed stack).
 *
 *   const call = signedFetch({ region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } });
 *   await call("http://127.0.0.1:3000/kv/cart-7", { method: "PUT", body: JSON.stringify({ value: 1, consistency: "all" }) });
 */
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type CredentialSource = Credentials | (() => Promise<Credentials>);

/** SHA-256 (or its HMAC under a secret) in the shape the SDK's signer takes. */
export class Sha256 {
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

export interface SignOptions {
  region: string;
  credentials: CredentialSource;
  /** API Gateway's signing name. */
  service?: string;
  /** The signing time (tests); now by default. */
  date?: Date;
  /**
   * Whether to add and sign an x-amz-content-sha256 header (the SDK's default). A verifier recomputing a
   * signature turns it off and passes exactly the headers the client signed (`signedHeaders`).
   */
  applyChecksum?: boolean;
  signedHeaders?: Set<string>;
}

/** The headers that sign `method url` with `body` (host, x-amz-date, authorization, ...). */
export async function signatureHeaders(
  method: string,
  url: URL,
  body: string | Uint8Array | undefined,
  headers: Record<string, string>,
  options: SignOptions,
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: options.service ?? "execute-api",
    sha256: Sha256,
    applyChecksum: options.applyChecksum ?? true,
  });
  const query: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) {
    const previous = query[name];
    query[name] =
      previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers: { ...headers, host: url.host },
      body,
    },
    { signingDate: options.date, signableHeaders: options.signedHeaders },
  );
  return signed.headers;
}

/** `fetch` that signs every request (string or byte bodies: a stream cannot be hashed before it is sent). */
export function signedFetch(options: SignOptions & { fetch?: typeof fetch }): typeof fetch {
  // The fetch to send with is looked up per call (global fetch unless one is given).
  const send: typeof fetch = (input, init) => (options.fetch ?? fetch)(input, init);
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const method = (init.method ?? "GET").toUpperCase();
    const body = typeof init.body === "string" || init.body instanceof Uint8Array ? init.body : undefined;
    if (init.body !== undefined && init.body !== null && body === undefined)
      throw new Error("signedFetch signs string and Uint8Array bodies only");
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const signed = await signatureHeaders(method, url, body, headers, options);
    // fetch sets Host itself (from the URL, the same value that was signed).
    const { host: _, ...rest } = signed;
    return send(url, { ...init, method, headers: rest });
  }) as typeof fetch;
}
