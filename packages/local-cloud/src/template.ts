/**
 * Reads a synthesized CloudFormation template: which resources exist, their local physical names,
 * and the values of CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, ...) once the
 * local resources exist. The template is the single source of truth for the local cloud.
 */
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./names.ts";

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Condition?: string }>;
  Parameters?: Record<string, { Type?: string; Default?: unknown }>;
  Conditions?: Record<string, unknown>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

/** What `AWS::NoValue` resolves to: the property or list item that holds it is dropped. */
const NO_VALUE = Symbol("AWS::NoValue");

/** Attribute values of a resource once it exists locally: `Ref` plus each `Fn::GetAtt` name. */
export interface PhysicalResource {
  ref: string;
  attributes: Record<string, string>;
}

export class TemplateError extends Error {}

export class Template {
  private readonly physical = new Map<string, PhysicalResource>();
  private readonly conditions = new Map<string, boolean>();

  readonly body: CfnTemplate;
  readonly stackName: string;
  /** Prefix of every local physical name; isolates several clouds sharing one SQS emulator. */
  readonly namePrefix: string;
  readonly apiEndpoint;

  constructor(
    body: CfnTemplate,
    stackName: string,
    namePrefix: string = stackName,
    apiEndpoint = "http://127.0.0.1:3000",
  ) {
    this.body = body;
    this.stackName = stackName;
    this.namePrefix = namePrefix;
    this.apiEndpoint = apiEndpoint;
  }

  /** The resources of a type that exist: a resource whose condition is false does not. */
  resourcesOfType(type: string): Array<[string, CfnResource]> {
    return Object.entries(this.body.Resources).filter(
      ([, resource]) => resource.Type === type && this.exists(resource),
    );
  }

  /** Whether a resource (or output) exists: it has no condition, or its condition is true. */
  exists(resource: { Condition?: string }): boolean {
    try {
      return resource.Condition === undefined || this.condition(resource.Condition);
    } catch {
      return false; // a condition the local cloud cannot evaluate: support.ts reports it
    }
  }

  /** A template condition's value (Fn::Equals, Fn::And, Fn::Or, Fn::Not, Condition). */
  condition(name: string): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    const definition = this.body.Conditions?.[name];
    if (definition === undefined) throw new TemplateError(`template has no condition ${name}`);
    const value = this.evaluate(definition);
    this.conditions.set(name, value);
    return value;
  }

  private evaluate(expression: unknown): boolean {
    const [fn, arg] = Object.entries(expression as Record<string, unknown>)[0] ?? [];
    const args = arg as unknown[];
    switch (fn) {
      case "Condition":
        return this.condition(String(arg));
      case "Fn::Equals":
        return JSON.stringify(this.resolve(args[0])) === JSON.stringify(this.resolve(args[1]));
      case "Fn::Not":
        return !this.evaluate(args[0]);
      case "Fn::And":
        return args.every((item) => this.evaluate(item));
      case "Fn::Or":
        return args.some((item) => this.evaluate(item));
      default:
        throw new TemplateError(`condition function ${String(fn)} is not supported by the local cloud`);
    }
  }

  resource(logicalId: string): CfnResource {
    const resource = this.body.Resources[logicalId];
    if (!resource) throw new TemplateError(`template has no resource ${logicalId}`);
    return resource;
  }

  /** The construct path below the stack ("Api", "Http/Api"), without the trailing "Resource". */
  constructPath(logicalId: string): string {
    const path = this.resource(logicalId).Metadata?.["aws:cdk:path"];
    if (typeof path !== "string") return logicalId;
    const parts = path.split("/").slice(1);
    if (parts.at(-1) === "Resource") parts.pop();
    return parts.join("/");
  }

  /** A local physical name: the resource's own explicit name, or prefix-logicalId. */
  physicalName(logicalId: string, explicit?: unknown, suffix = ""): string {
    if (explicit !== undefined) return String(this.resolve(explicit));
    return `${this.namePrefix}-${logicalId}`.slice(0, 80 - suffix.length) + suffix;
  }

  arn(service: string, resource: string): string {
    return `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;
  }

  /** Records the local identity of a resource so intrinsics that point at it can be resolved. */
  setPhysical(logicalId: string, physical: PhysicalResource): void {
    this.physical.set(logicalId, physical);
  }

  physicalOf(logicalId: string): PhysicalResource {
    const known = this.physical.get(logicalId);
    if (known) return known;
    const resource = this.resource(logicalId);
    // Resources the local cloud does not create (roles, log groups, stages...) still get stable values.
    const name = this.physicalName(logicalId);
    switch (resource.Type) {
      case "AWS::IAM::Role":
        return {
          ref: name,
          attributes: { Arn: this.arn("iam", `role/${name}`).replace(`:${LOCAL_REGION}:`, "::") },
        };
      case "AWS::Logs::LogGroup":
        return { ref: name, attributes: { Arn: this.arn("logs", `log-group:${name}:*`) } };
      case "AWS::ApiGatewayV2::Api": {
        // A WebSocket API's endpoint is ws:// on the same port (wss:// on AWS).
        const endpoint =
          resource.Properties?.ProtocolType === "WEBSOCKET"
            ? this.apiEndpoint.replace(/^http/, "ws")
            : this.apiEndpoint;
        return { ref: logicalId, attributes: { ApiEndpoint: endpoint, ApiId: logicalId } };
      }
      case "AWS::ApiGateway::RestApi":
        return { ref: logicalId, attributes: { RootResourceId: `${logicalId}-root` } };
      case "AWS::ApiGateway::Stage":
        return { ref: this.resolveString(resource.Properties?.StageName ?? logicalId), attributes: {} };
      default:
        return { ref: logicalId, attributes: {} };
    }
  }

  /**
   * A resource the local cloud does not create still answers Ref and Fn::GetAtt, with placeholder values
   * (an ARN for Arn), so that what refers to it runs; calls to it fail, as they would to nothing.
   */
  private placeholder(logicalId: string, attribute: string): string {
    const type = this.resource(logicalId).Type;
    const service = type.split("::")[1]?.toLowerCase() ?? "local";
    return attribute === "Arn"
      ? this.arn(service, this.physicalName(logicalId))
      : `${logicalId}.${attribute}`;
  }

  /** Resolves intrinsic functions to plain values. */
  resolve(value: unknown): unknown {
    const resolved = this.resolveValue(value);
    return resolved === NO_VALUE ? undefined : resolved;
  }

  private resolveValue(value: unknown): unknown {
    if (Array.isArray(value))
      return value.map((item) => this.resolveValue(item)).filter((item) => item !== NO_VALUE);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [fn, arg] = entries[0] ?? [];
    if (entries.length === 1 && fn !== undefined && (fn === "Ref" || fn.startsWith("Fn::"))) {
      return this.intrinsic(fn, arg);
    }
    return Object.fromEntries(
      entries
        .map(([key, item]) => [key, this.resolveValue(item)] as const)
        .filter(([, item]) => item !== NO_VALUE),
    );
  }

  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== "string" && typeof resolved !== "number") {
      throw new TemplateError(`expected a string, got ${JSON.stringify(resolved)}`);
    }
    return String(resolved);
  }

  private pseudo(name: string): string | undefined {
    const values: Record<string, string> = {
      "AWS::Region": LOCAL_REGION,
      "AWS::AccountId": LOCAL_ACCOUNT,
      "AWS::Partition": "aws",
      "AWS::URLSuffix": "amazonaws.com",
      "AWS::StackName": this.stackName,
      "AWS::StackId": this.arn("cloudformation", `stack/${this.stackName}/local`),
    };
    return values[name];
  }

  private getAtt(logicalId: string, attribute: string): string {
    const value = this.physicalOf(logicalId).attributes[attribute];
    if (value !== undefined) return value;
    if (!this.physical.has(logicalId)) return this.placeholder(logicalId, attribute);
    throw new TemplateError(`cannot resolve Fn::GetAtt ${logicalId}.${attribute} locally`);
  }

  /** A parameter's value: its default (the local cloud takes no parameter values). */
  private parameter(name: string): unknown {
    const parameter = this.body.Parameters?.[name];
    if (!parameter) return undefined;
    if (parameter.Default === undefined)
      throw new TemplateError(
        `parameter ${name} has no default, and the local cloud takes no parameter values`,
      );
    return parameter.Type?.startsWith("List<") || parameter.Type === "CommaDelimitedList"
      ? String(parameter.Default).split(",")
      : parameter.Default;
  }

  private intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case "Ref": {
        const name = String(arg);
        if (name === "AWS::NoValue") return NO_VALUE;
        return this.pseudo(name) ?? this.parameter(name) ?? this.physicalOf(name).ref;
      }
      case "Fn::If": {
        const [condition, whenTrue, whenFalse] = arg as [string, unknown, unknown];
        return this.resolveValue(this.condition(condition) ? whenTrue : whenFalse);
      }
      case "Fn::FindInMap": {
        const [map, top, second] = (arg as unknown[]).map((item) => this.resolveString(item));
        const value = this.body.Mappings?.[map!]?.[top!]?.[second!];
        if (value === undefined) throw new TemplateError(`Fn::FindInMap: no ${map}.${top}.${second}`);
        return value;
      }
      case "Fn::Base64":
        return Buffer.from(this.resolveString(arg)).toString("base64");
      case "Fn::GetAZs":
        return ["a", "b", "c"].map((zone) => `${LOCAL_REGION}${zone}`);
      case "Fn::GetAtt": {
        const [logicalId, attribute] = Array.isArray(arg) ? arg : String(arg).split(".");
        return this.getAtt(String(logicalId), String(attribute));
      }
      case "Fn::Join": {
        const [separator, items] = arg as [string, unknown[]];
        return (this.resolve(items) as unknown[]).join(separator);
      }
      case "Fn::Select": {
        const [index, items] = arg as [unknown, unknown];
        return (this.resolve(items) as unknown[])[Number(this.resolve(index))];
      }
      case "Fn::Split": {
        const [separator, source] = arg as [string, unknown];
        return this.resolveString(source).split(separator);
      }
      case "Fn::Sub": {
        const [text, variables] = Array.isArray(arg)
          ? (arg as [string, Record<string, unknown>])
          : [String(arg), {}];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
          if (name in variables) return this.resolveString(variables[name]);
          const pseudo = this.pseudo(name);
          if (pseudo !== undefined) return pseudo;
          const parameter = this.parameter(name);
          if (parameter !== undefined) return String(parameter);
          const [logicalId, attribute] = name.split(".");
          return attribute ? this.getAtt(String(logicalId), attribute) : this.physicalOf(name).ref;
        });
      }
      default:
        throw new TemplateError(`intrinsic ${fn} is not supported by the local cloud`);
    }
  }
}
