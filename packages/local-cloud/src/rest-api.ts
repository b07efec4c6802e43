/**
 * API Gateway REST APIs (v1) of the template: AWS::ApiGateway::Resource gives the paths,
 * AWS::ApiGateway::Method the methods with their integrations, AWS::ApiGateway::Stage the stage that
 * prefixes every URL. Lambda proxy integrations (payload 1.0) and mock integrations (what CDK's CORS
 * preflight uses) are served; any other integration or authorizer skips its method with a reason.
 *
 * URLs: the first REST API of the template is served at /{stage}/..., every one also at
 * /restapis/{logicalId}/{stage}/... (outputs that point at an API's execute-api URL are rewritten so).
 */

import type { FunctionRegistry } from "./lambda-api.ts";
import { type LocalRoute, pathPattern } from "./routes.ts";
import type { Skipped } from "./support.ts";
import type { Template } from "./template.ts";

type Props = Record<string, unknown>;

/** The logical id an intrinsic points at (Ref X, or Fn::GetAtt [X, ...]). */
function pointsAt(value: unknown): string | undefined {
  const object = value as { Ref?: unknown; "Fn::GetAtt"?: unknown } | undefined;
  if (typeof object?.Ref === "string") return object.Ref;
  const getAtt = object?.["Fn::GetAtt"];
  if (Array.isArray(getAtt)) return String(getAtt[0]);
  if (typeof getAtt === "string") return getAtt.split(".")[0];
  return undefined;
}

/** Where each REST API is served: its base path on the local HTTP server. */
export function restApiBases(template: Template): Map<string, string> {
  const bases = new Map<string, string>();
  const stages = template.resourcesOfType("AWS::ApiGateway::Stage");
  const deployments = template.resourcesOfType("AWS::ApiGateway::Deployment");
  template.resourcesOfType("AWS::ApiGateway::RestApi").forEach(([apiId], index) => {
    const stage =
      stages.find(([, stage]) => pointsAt(stage.Properties?.RestApiId) === apiId)?.[1].Properties
        ?.StageName ??
      deployments.find(([, deployment]) => pointsAt(deployment.Properties?.RestApiId) === apiId)?.[1]
        .Properties?.StageName;
    let name: string;
    try {
      if (stage === undefined) return;
      name = template.resolveString(stage);
    } catch {
      return; // readRestRoutes skips an API without a stage it can name
    }
    bases.set(apiId, `/restapis/${apiId}/${name}`);
    if (index === 0) bases.set(`${apiId}#short`, `/${name}`);
  });
  return bases;
}

export function readRestRoutes(
  template: Template,
  registry: FunctionRegistry,
  skip: (skipped: Skipped) => void,
): LocalRoute[] {
  const bases = restApiBases(template);
  for (const [apiId, resource] of template.resourcesOfType("AWS::ApiGateway::RestApi"))
    if (!bases.has(apiId))
      skip({
        logicalId: apiId,
        type: resource.Type,
        reason: "no stage (a deployment with a stage name is needed)",
      });

  // The path of each resource, walking up its parents to the API's root.
  const resources = new Map(template.resourcesOfType("AWS::ApiGateway::Resource"));
  const pathOf = (resourceId: string, apiId: string): string => {
    if (resourceId === apiId || !resources.has(resourceId)) return "";
    const props = resources.get(resourceId)!.Properties ?? {};
    return `${pathOf(pointsAt(props.ParentId) ?? apiId, apiId)}/${template.resolveString(props.PathPart)}`;
  };

  const routes: LocalRoute[] = [];
  for (const [logicalId, resource] of template.resourcesOfType("AWS::ApiGateway::Method")) {
    const props = (resource.Properties ?? {}) as Props;
    const apiId = pointsAt(props.RestApiId) ?? "";
    const base = bases.get(apiId);
    if (!base) continue;
    const method = template.resolveString(props.HttpMethod).toUpperCase();
    const resourcePath = pathOf(pointsAt(props.ResourceId) ?? apiId, apiId) || "/";
    const routeKey = `${method} ${resourcePath}`;
    try {
      const authorization = String(props.AuthorizationType ?? "NONE");
      if (authorization !== "NONE" && authorization !== "AWS_IAM")
        throw new Error(`authorization ${authorization} does not run locally (NONE and AWS_IAM do)`);
      const integration = (props.Integration ?? {}) as Props;
      const type = String(integration.Type ?? "");
      const common = {
        routeKey,
        api: apiId,
        kind: "rest" as const,
        authorization: authorization as LocalRoute["authorization"],
        method: method === "ANY" ? "ANY" : method,
        path: resourcePath,
        payload: "1.0" as const,
        stage: base.split("/").at(-1)!,
      };
      let target: Pick<LocalRoute, "fn" | "mock">;
      if (type === "AWS_PROXY") {
        const uri = template.resolveString(integration.Uri);
        const arn = /functions\/(.+)\/invocations$/.exec(uri)?.[1];
        if (!arn) throw new Error(`integration URI ${uri} is not a Lambda function`);
        target = { fn: registry.require(arn) };
      } else if (type === "MOCK") {
        target = { mock: mockResponse(template, integration) };
      } else {
        throw new Error(`integration type ${type} does not run locally (AWS_PROXY and MOCK do)`);
      }
      for (const prefix of new Set([base, bases.get(`${apiId}#short`)].filter((p) => p !== undefined))) {
        const url = `${prefix}${resourcePath === "/" ? "/" : resourcePath}`;
        routes.push({ ...common, ...target, routeKey: `${method} ${url}`, ...pathPattern(url) });
      }
    } catch (error) {
      skip({ logicalId, type: resource.Type, reason: `${routeKey}: ${(error as Error).message}` });
    }
  }
  return routes;
}

/**
 * A mock integration's answer: the default integration response's status, its headers where they are
 * literals ('value') or echo a request header (method.request.header.X), and its body where the
 * template is plain text (mapping templates with VTL are not evaluated).
 */
function mockResponse(template: Template, integration: Props): NonNullable<LocalRoute["mock"]> {
  const responses = (template.resolve(integration.IntegrationResponses) ?? []) as Array<{
    StatusCode?: string;
    SelectionPattern?: string;
    ResponseParameters?: Record<string, string>;
    ResponseTemplates?: Record<string, string>;
  }>;
  const chosen = responses.find((response) => !response.SelectionPattern) ?? responses[0] ?? {};
  const headers: Record<string, string> = {};
  const echo: Record<string, string> = {};
  for (const [name, value] of Object.entries(chosen.ResponseParameters ?? {})) {
    const header = /^method\.response\.header\.(.+)$/.exec(name)?.[1];
    if (!header) continue;
    const literal = /^'(.*)'$/.exec(value);
    if (literal) headers[header.toLowerCase()] = literal[1]!;
    const requested = /^method\.request\.header\.(.+)$/.exec(value)?.[1];
    if (requested) echo[header.toLowerCase()] = requested.toLowerCase();
  }
  const body = chosen.ResponseTemplates?.["application/json"] ?? "";
  return {
    status: Number(chosen.StatusCode ?? 200),
    headers,
    echo,
    body: /[$#]/.test(body) ? "" : body,
  };
}
