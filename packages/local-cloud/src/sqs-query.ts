/**
 * The SQS query protocol (form-encoded `Action=SendMessage&...`, XML answers), which the AWS CLI before
 * 2.13, boto3 before 1.34, the AWS SDK for Java v1 and many other SDKs speak, translated to the JSON
 * protocol the SQS emulator serves, and its answers back to AWS's XML shapes (API version 2012-11-05).
 * A request is posted to the endpoint's root with a `QueueUrl` parameter, or to the queue's URL itself.
 */
import { randomUUID } from "node:crypto";

const NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/";

type Json = Record<string, unknown>;
/** Flattened query parameters (`Attribute.1.Name`) as a tree: lists become objects keyed by index. */
type Tree = { [name: string]: string | Tree };

/** `A.1.B=x&A.2.B=y` → `{ A: { 1: { B: "x" }, 2: { B: "y" } } }`. */
function tree(params: URLSearchParams): Tree {
  const root: Tree = {};
  for (const [name, value] of params) {
    const path = name.split(".");
    let node = root;
    for (const part of path.slice(0, -1)) {
      if (typeof node[part] !== "object") node[part] = {};
      node = node[part] as Tree;
    }
    node[path.at(-1)!] = value;
  }
  return root;
}

/** The members of a flattened list (`Name.1`, `Name.2`, ...) in index order. */
function members(node: string | Tree | undefined): Array<string | Tree> {
  if (typeof node !== "object") return [];
  return Object.entries(node)
    .filter(([index]) => /^\d+$/.test(index))
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, member]) => member);
}

const text = (node: string | Tree | undefined) => (typeof node === "string" ? node : undefined);
const tr = (node: string | Tree | undefined): Tree => (typeof node === "object" ? node : {});
const integer = (node: string | Tree | undefined) => {
  const value = text(node);
  return value === undefined ? undefined : Number(value);
};
const strings = (node: string | Tree | undefined) => members(node).map((member) => text(member) ?? "");
/** `Attribute.N.Name` / `Attribute.N.Value` → `{ Name: Value }`. */
const nameValues = (node: string | Tree | undefined, key = "Name", value = "Value") =>
  Object.fromEntries(members(node).map((member) => [text(tr(member)[key]), text(tr(member)[value])]));
/** `MessageAttribute.N.Name` / `.Value.DataType|StringValue|BinaryValue` → the JSON protocol's map. */
const messageAttributes = (node: string | Tree | undefined) =>
  Object.fromEntries(
    members(node).map((member) => {
      const value = tr(tr(member).Value);
      return [
        text(tr(member).Name),
        defined({
          DataType: text(value.DataType),
          StringValue: text(value.StringValue),
          BinaryValue: text(value.BinaryValue),
        }),
      ];
    }),
  );

function defined(object: Json): Json {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}
const mapOrUndefined = (map: Json) => (Object.keys(map).length > 0 ? map : undefined);

/** A message to send, from the parameters of SendMessage or of one batch entry. */
const message = (p: Tree) =>
  defined({
    MessageBody: text(p.MessageBody),
    DelaySeconds: integer(p.DelaySeconds),
    MessageGroupId: text(p.MessageGroupId),
    MessageDeduplicationId: text(p.MessageDeduplicationId),
    MessageAttributes: mapOrUndefined(messageAttributes(p.MessageAttribute)),
    MessageSystemAttributes: mapOrUndefined(messageAttributes(p.MessageSystemAttribute)),
  });

// --- answers -----------------------------------------------------------------------------------------

/** XML text: the five entities, and CR as SQS writes it (a parser would turn a raw CR into LF). */
const escapeXml = (value: unknown) =>
  String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;")
    .replaceAll("\r", "&#xD;");
const element = (name: string, value: unknown) =>
  value === undefined || value === null ? "" : `<${name}>${escapeXml(value)}</${name}>`;
const fields = (object: Json, names: string[]) => names.map((name) => element(name, object[name])).join("");
const list = <T>(items: unknown, render: (item: T) => string) =>
  Array.isArray(items) ? (items as T[]).map(render).join("") : "";
const entries = (map: unknown, render: (name: string, value: unknown) => string) =>
  map && typeof map === "object"
    ? Object.entries(map)
        .map(([name, value]) => render(name, value))
        .join("")
    : "";

const batchErrors = (result: Json) =>
  list<Json>(
    result.Failed,
    (failed) =>
      `<BatchResultErrorEntry>${fields(failed, ["Id", "Code", "Message"])}${element("SenderFault", failed.SenderFault ?? true)}</BatchResultErrorEntry>`,
  );
const idsOnly = (entry: string) => (result: Json) =>
  list<Json>(result.Successful, (ok) => `<${entry}>${element("Id", ok.Id)}</${entry}>`) + batchErrors(result);

interface QueryAction {
  /** The JSON protocol request for the query parameters. */
  request(p: Tree): Json;
  /** The XML of the `<ActionResult>` element's content, or undefined for an answer without a result. */
  result?(result: Json): string;
}

const ACTIONS: Record<string, QueryAction> = {
  CreateQueue: {
    request: (p) =>
      defined({
        QueueName: text(p.QueueName),
        Attributes: mapOrUndefined(nameValues(p.Attribute)),
        tags: mapOrUndefined(nameValues(p.Tag, "Key", "Value")),
      }),
    result: (r) => element("QueueUrl", r.QueueUrl),
  },
  GetQueueUrl: {
    request: (p) =>
      defined({ QueueName: text(p.QueueName), QueueOwnerAWSAccountId: text(p.QueueOwnerAWSAccountId) }),
    result: (r) => element("QueueUrl", r.QueueUrl),
  },
  ListQueues: {
    request: (p) =>
      defined({
        QueueNamePrefix: text(p.QueueNamePrefix),
        MaxResults: integer(p.MaxResults),
        NextToken: text(p.NextToken),
      }),
    result: (r) =>
      list<string>(r.QueueUrls, (url) => element("QueueUrl", url)) + element("NextToken", r.NextToken),
  },
  DeleteQueue: { request: (p) => defined({ QueueUrl: text(p.QueueUrl) }) },
  GetQueueAttributes: {
    request: (p) => defined({ QueueUrl: text(p.QueueUrl), AttributeNames: strings(p.AttributeName) }),
    result: (r) =>
      entries(
        r.Attributes,
        (name, value) => `<Attribute>${element("Name", name)}${element("Value", value)}</Attribute>`,
      ),
  },
  SetQueueAttributes: {
    request: (p) => defined({ QueueUrl: text(p.QueueUrl), Attributes: nameValues(p.Attribute) }),
  },
  PurgeQueue: { request: (p) => defined({ QueueUrl: text(p.QueueUrl) }) },
  SendMessage: {
    request: (p) => ({ QueueUrl: text(p.QueueUrl), ...message(p) }),
    result: (r) =>
      fields(r, [
        "MD5OfMessageBody",
        "MD5OfMessageAttributes",
        "MD5OfMessageSystemAttributes",
        "MessageId",
        "SequenceNumber",
      ]),
  },
  SendMessageBatch: {
    request: (p) => ({
      QueueUrl: text(p.QueueUrl),
      Entries: members(p.SendMessageBatchRequestEntry).map((entry) => ({
        Id: text(tr(entry).Id),
        ...message(tr(entry)),
      })),
    }),
    result: (r) =>
      list<Json>(
        r.Successful,
        (ok) =>
          `<SendMessageBatchResultEntry>${fields(ok, ["Id", "MessageId", "MD5OfMessageBody", "MD5OfMessageAttributes", "MD5OfMessageSystemAttributes", "SequenceNumber"])}</SendMessageBatchResultEntry>`,
      ) + batchErrors(r),
  },
  ReceiveMessage: {
    request: (p) =>
      defined({
        QueueUrl: text(p.QueueUrl),
        AttributeNames: strings(p.AttributeName),
        MessageSystemAttributeNames: strings(p.MessageSystemAttributeName),
        MessageAttributeNames: strings(p.MessageAttributeName),
        MaxNumberOfMessages: integer(p.MaxNumberOfMessages),
        VisibilityTimeout: integer(p.VisibilityTimeout),
        WaitTimeSeconds: integer(p.WaitTimeSeconds),
        ReceiveRequestAttemptId: text(p.ReceiveRequestAttemptId),
      }),
    result: (r) =>
      list<Json>(
        r.Messages,
        (m) =>
          `<Message>${fields(m, ["MessageId", "ReceiptHandle", "MD5OfBody", "Body"])}${entries(
            m.Attributes,
            (name, value) => `<Attribute>${element("Name", name)}${element("Value", value)}</Attribute>`,
          )}${element("MD5OfMessageAttributes", m.MD5OfMessageAttributes)}${entries(
            m.MessageAttributes,
            (name, value) =>
              `<MessageAttribute>${element("Name", name)}<Value>${fields(value as Json, ["StringValue", "BinaryValue", "DataType"])}</Value></MessageAttribute>`,
          )}</Message>`,
      ),
  },
  DeleteMessage: {
    request: (p) => defined({ QueueUrl: text(p.QueueUrl), ReceiptHandle: text(p.ReceiptHandle) }),
  },
  DeleteMessageBatch: {
    request: (p) => ({
      QueueUrl: text(p.QueueUrl),
      Entries: members(p.DeleteMessageBatchRequestEntry).map((entry) =>
        defined({ Id: text(tr(entry).Id), ReceiptHandle: text(tr(entry).ReceiptHandle) }),
      ),
    }),
    result: idsOnly("DeleteMessageBatchResultEntry"),
  },
  ChangeMessageVisibility: {
    request: (p) =>
      defined({
        QueueUrl: text(p.QueueUrl),
        ReceiptHandle: text(p.ReceiptHandle),
        VisibilityTimeout: integer(p.VisibilityTimeout),
      }),
  },
  ChangeMessageVisibilityBatch: {
    request: (p) => ({
      QueueUrl: text(p.QueueUrl),
      Entries: members(p.ChangeMessageVisibilityBatchRequestEntry).map((entry) =>
        defined({
          Id: text(tr(entry).Id),
          ReceiptHandle: text(tr(entry).ReceiptHandle),
          VisibilityTimeout: integer(tr(entry).VisibilityTimeout),
        }),
      ),
    }),
    result: idsOnly("ChangeMessageVisibilityBatchResultEntry"),
  },
  TagQueue: {
    request: (p) => defined({ QueueUrl: text(p.QueueUrl), Tags: nameValues(p.Tag, "Key", "Value") }),
  },
  UntagQueue: { request: (p) => defined({ QueueUrl: text(p.QueueUrl), TagKeys: strings(p.TagKey) }) },
  ListQueueTags: {
    request: (p) => defined({ QueueUrl: text(p.QueueUrl) }),
    result: (r) =>
      entries(r.Tags, (key, value) => `<Tag>${element("Key", key)}${element("Value", value)}</Tag>`),
  },
};

/** The query actions translated (every SQS action the emulator serves). */
export const QUERY_ACTIONS = Object.keys(ACTIONS);

export interface Translated {
  action: string;
  /** The JSON protocol request: its `X-Amz-Target` and body. */
  target: string;
  body: Json;
  /** The XML answer for the JSON protocol's answer. */
  answer(status: number, body: string, queryError: string | undefined): { status: number; xml: string };
}

export class QueryError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Translates a query-protocol request; `queueUrl` is the queue's URL when the request was posted to it.
 * Throws QueryError for an action it does not know.
 */
export function translateQuery(params: URLSearchParams, queueUrl: string | undefined): Translated {
  const action = params.get("Action") ?? "";
  const known = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
  if (!known)
    throw new QueryError("InvalidAction", `The action ${action || "(none)"} is not valid for this endpoint.`);
  const p = tree(params);
  if (queueUrl && p.QueueUrl === undefined) p.QueueUrl = queueUrl;
  return {
    action,
    target: `AmazonSQS.${action}`,
    body: known.request(p),
    answer(status, body, queryError) {
      const parsed = (body ? JSON.parse(body) : {}) as Json;
      if (status >= 300) {
        // The JSON protocol names the query protocol's code and fault in x-amzn-query-error.
        const [code, fault] = (queryError ?? "").split(";");
        const type = String(parsed.__type ?? "InternalError")
          .split("#")
          .pop();
        return {
          status,
          xml: errorXml(
            code || type || "InternalError",
            String(parsed.message ?? parsed.Message ?? ""),
            fault === "Receiver" || status >= 500 ? "Receiver" : "Sender",
          ),
        };
      }
      const result = known.result?.(parsed);
      return {
        status,
        xml: `<?xml version="1.0"?><${action}Response xmlns="${NAMESPACE}">${result === undefined ? "" : `<${action}Result>${result}</${action}Result>`}<ResponseMetadata>${element("RequestId", randomUUID())}</ResponseMetadata></${action}Response>`,
      };
    },
  };
}

/** An error in the query protocol's XML shape. */
export function errorXml(code: string, message: string, type: "Sender" | "Receiver" = "Sender"): string {
  return `<?xml version="1.0"?><ErrorResponse xmlns="${NAMESPACE}"><Error>${element("Type", type)}${element("Code", code)}${element("Message", message)}<Detail/></Error>${element("RequestId", randomUUID())}</ErrorResponse>`;
}
