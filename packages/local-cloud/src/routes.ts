/** A route the local API Gateway serves, read from an HTTP API's or a REST API's resources. */
import type { LocalFunction } from "./functions.ts";

export interface LocalRoute {
  routeKey: string;
  /** The logical id of the API the route belongs to. */
  api: string;
  kind: "http" | "rest";
  /** NONE, or AWS_IAM: the request must be SigV4-signed with the local credentials (auth.ts). */
  authorization: "NONE" | "AWS_IAM";
  method: string;
  path?: string;
  pattern?: RegExp;
  params: string[];
  /** The Lambda proxy payload format: 2.0 (HTTP APIs' default) or 1.0 (REST APIs, and HTTP APIs that ask). */
  payload: "1.0" | "2.0";
  /** REST APIs: the stage the URL starts with. */
  stage?: string;
  fn?: LocalFunction;
  /** A mock integration's answer; `echo` maps response headers to request headers they copy. */
  mock?: { status: number; headers: Record<string, string>; echo: Record<string, string>; body: string };
}

/** The pattern of a path with {param} and {proxy+} segments. */
export function pathPattern(path: string): Pick<LocalRoute, "pattern" | "params"> {
  const params: string[] = [];
  const source = path
    .split("/")
    .map((segment) => {
      const match = /^\{([^}+]+)(\+?)\}$/.exec(segment);
      if (!match) return segment.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
      params.push(match[1]!);
      return match[2] ? "(.+)" : "([^/]+)";
    })
    .join("/");
  // API Gateway answers a path with or without its trailing slash ("/prod" and "/prod/").
  return { pattern: new RegExp(`^${source.replace(/\/$/, "")}/?$`), params };
}
