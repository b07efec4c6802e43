/**
 * SNS topics and their subscriptions, on the emulator's SNS (it shares the SQS endpoint): topics from
 * AWS::SNS::Topic; SQS subscriptions (raw or enveloped, with their filter policy) delivered by the
 * emulator itself; Lambda subscriptions delivered here: the emulator fans out, through the same filter
 * policy, to a queue of the local cloud's own, and each message becomes an SNS event invoked
 * asynchronously (retried twice when the function fails, as Lambda does). Other protocols (HTTP/S,
 * email, SMS, Firehose, application) are skipped with their reason: nothing is half-delivered.
 */
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { invokeAsync } from "./async-invoke.ts";
import type { LocalFunction } from "./functions.ts";
import type { FunctionRegistry } from "./lambda-api.ts";
import type { LocalQueue } from "./resources.ts";
import type { Skipped } from "./support.ts";
import type { Template } from "./template.ts";

export interface LocalTopic {
  logicalId: string;
  name: string;
  arn: string;
  fifo: boolean;
}

/** A subscription the local cloud delivers. */
export interface LocalSubscription {
  logicalId: string;
  protocol: "sqs" | "lambda";
  topicArn: string;
  /** The queue's ARN, or the function's id. */
  target: string;
  raw: boolean;
  filterPolicy?: string;
}

export interface LambdaSubscription {
  logicalId: string;
  subscriptionArn: string;
  topicArn: string;
  fn: LocalFunction;
  /** The local cloud's queue the emulator delivers this subscription's messages to. */
  queueUrl: string;
}

export async function createTopics(
  template: Template,
  sns: SNSClient,
  skip: (skipped: Skipped) => void = () => {},
): Promise<LocalTopic[]> {
  const created = await Promise.all(
    template.resourcesOfType("AWS::SNS::Topic").map(async ([logicalId, resource]) => {
      const props = resource.Properties ?? {};
      try {
        const fifo = props.FifoTopic === true || props.FifoTopic === "true";
        const name = template.physicalName(logicalId, props.TopicName, fifo ? ".fifo" : "");
        const attributes: Record<string, string> = {};
        if (fifo) attributes.FifoTopic = "true";
        if (props.ContentBasedDeduplication !== undefined)
          attributes.ContentBasedDeduplication = String(template.resolve(props.ContentBasedDeduplication));
        if (props.DisplayName !== undefined)
          attributes.DisplayName = template.resolveString(props.DisplayName);
        const { TopicArn: arn } = await sns.send(
          new CreateTopicCommand({ Name: name, Attributes: attributes }),
        );
        template.setPhysical(logicalId, { ref: arn!, attributes: { TopicArn: arn!, TopicName: name } });
        return { logicalId, name, arn: arn!, fifo };
      } catch (error) {
        skip({ logicalId, type: resource.Type, reason: (error as Error).message });
        return undefined;
      }
    }),
  );
  return created.filter((topic) => topic !== undefined);
}

interface SubscriptionSpec {
  logicalId: string;
  type: string;
  topicArn: string;
  protocol: string;
  endpoint: string;
  attributes: Record<string, string>;
}

/** The template's subscriptions: AWS::SNS::Subscription, and those inline in a topic (`Subscription`). */
function subscriptionSpecs(template: Template, topics: LocalTopic[]): SubscriptionSpec[] {
  const specs: SubscriptionSpec[] = [];
  for (const topic of topics) {
    const inline = template.resolve(template.resource(topic.logicalId).Properties?.Subscription) as
      | Array<{ Protocol: string; Endpoint: string }>
      | undefined;
    for (const [index, subscription] of (inline ?? []).entries())
      specs.push({
        logicalId: `${topic.logicalId}.Subscription[${index}]`,
        type: "AWS::SNS::Topic",
        topicArn: topic.arn,
        protocol: String(subscription.Protocol).toLowerCase(),
        endpoint: String(subscription.Endpoint),
        attributes: {},
      });
  }
  for (const [logicalId, resource] of template.resourcesOfType("AWS::SNS::Subscription")) {
    const props = resource.Properties ?? {};
    const attributes: Record<string, string> = {};
    const raw = template.resolve(props.RawMessageDelivery);
    if (raw === true || raw === "true") attributes.RawMessageDelivery = "true";
    const filter = template.resolve(props.FilterPolicy);
    if (filter !== undefined)
      attributes.FilterPolicy = typeof filter === "string" ? filter : JSON.stringify(filter);
    if (props.FilterPolicyScope !== undefined)
      attributes.FilterPolicyScope = template.resolveString(props.FilterPolicyScope);
    specs.push({
      logicalId,
      type: resource.Type,
      topicArn: template.resolveString(props.TopicArn),
      protocol: template.resolveString(props.Protocol).toLowerCase(),
      endpoint: template.resolveString(props.Endpoint),
      attributes,
    });
  }
  return specs;
}

/**
 * Subscribes what the local cloud delivers: SQS subscriptions on the emulator, Lambda subscriptions
 * through a queue of its own each. Answers the Lambda subscriptions, to be delivered by SnsDelivery.
 */
export async function createSubscriptions(
  template: Template,
  topics: LocalTopic[],
  sns: SNSClient,
  sqs: SQSClient,
  registry: FunctionRegistry,
  skip: (skipped: Skipped) => void = () => {},
): Promise<{ subscriptions: LocalSubscription[]; lambdas: LambdaSubscription[] }> {
  const lambdas: LambdaSubscription[] = [];
  const subscriptions: LocalSubscription[] = [];
  const described = (protocol: "sqs" | "lambda", target: string): LocalSubscription => ({
    logicalId: "",
    protocol,
    topicArn: "",
    target,
    raw: false,
  });
  for (const spec of subscriptionSpecs(template, topics)) {
    try {
      const topic = topics.find((candidate) => candidate.arn === spec.topicArn);
      if (!topic) throw new Error(`its topic ${spec.topicArn} is not one of the stack's topics`);
      if (spec.protocol === "sqs") {
        const { SubscriptionArn } = await sns.send(
          new SubscribeCommand({
            TopicArn: topic.arn,
            Protocol: "sqs",
            Endpoint: spec.endpoint,
            Attributes: spec.attributes,
            ReturnSubscriptionArn: true,
          }),
        );
        if (!spec.logicalId.includes("."))
          template.setPhysical(spec.logicalId, { ref: SubscriptionArn!, attributes: {} });
        subscriptions.push({
          ...described("sqs", spec.endpoint),
          raw: spec.attributes.RawMessageDelivery === "true",
        });
      } else if (spec.protocol === "lambda") {
        if (topic.fifo) throw new Error("a FIFO topic delivers to SQS queues only (as on AWS)");
        const fn = registry.require(spec.endpoint);
        // The emulator delivers to queues only: to one of ours, enveloped, through the same filter policy.
        const name = `local-sns-${spec.logicalId.replace(/[^\w-]/g, "-")}`.slice(0, 80);
        const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
        const { Attributes } = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
        );
        const { RawMessageDelivery: _, ...attributes } = spec.attributes;
        const { SubscriptionArn } = await sns.send(
          new SubscribeCommand({
            TopicArn: topic.arn,
            Protocol: "sqs",
            Endpoint: Attributes!.QueueArn,
            Attributes: attributes,
            ReturnSubscriptionArn: true,
          }),
        );
        // The ARN a Lambda subscription has on AWS: the topic's, with the subscription's id.
        const subscriptionArn = `${topic.arn}:${SubscriptionArn!.split(":").at(-1)}`;
        if (!spec.logicalId.includes("."))
          template.setPhysical(spec.logicalId, { ref: subscriptionArn, attributes: {} });
        lambdas.push({
          logicalId: spec.logicalId,
          subscriptionArn,
          topicArn: topic.arn,
          fn,
          queueUrl: queueUrl!,
        });
        subscriptions.push(described("lambda", fn.id));
      } else {
        throw new Error(
          `SNS ${spec.protocol} subscriptions are not emulated (only sqs and lambda): nothing is delivered to ${spec.endpoint}`,
        );
      }
    } catch (error) {
      skip({ logicalId: spec.logicalId, type: spec.type, reason: (error as Error).message });
      continue;
    }
    const last = subscriptions.at(-1)!;
    Object.assign(last, {
      logicalId: spec.logicalId,
      topicArn: spec.topicArn,
      filterPolicy: spec.attributes.FilterPolicy,
    });
  }
  return { subscriptions, lambdas };
}

/** The Lambda event SNS sends for one message (its queue delivery's envelope). */
export function snsEvent(envelope: Record<string, unknown>, subscriptionArn: string) {
  return {
    Records: [
      {
        EventSource: "aws:sns",
        EventVersion: "1.0",
        EventSubscriptionArn: subscriptionArn,
        Sns: {
          Type: envelope.Type ?? "Notification",
          MessageId: envelope.MessageId,
          TopicArn: envelope.TopicArn,
          Subject: envelope.Subject ?? null,
          Message: envelope.Message,
          Timestamp: envelope.Timestamp,
          SignatureVersion: envelope.SignatureVersion,
          Signature: envelope.Signature,
          SigningCertUrl: envelope.SigningCertURL,
          UnsubscribeUrl: envelope.UnsubscribeURL,
          MessageAttributes: envelope.MessageAttributes ?? {},
        },
      },
    ],
  };
}

/** Delivers a Lambda subscription's messages: each one an asynchronous invocation of the function. */
export class SnsDelivery {
  private readonly abort = new AbortController();
  private readonly loop: Promise<void>;

  constructor(
    subscription: LambdaSubscription,
    sqs: SQSClient,
    log: (line: string) => void,
    deadLetter?: LocalQueue,
  ) {
    this.loop = this.run(subscription, sqs, log, deadLetter);
  }

  private async run(
    subscription: LambdaSubscription,
    sqs: SQSClient,
    log: (line: string) => void,
    deadLetter?: LocalQueue,
  ): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: subscription.queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
          }),
          { abortSignal: signal },
        );
        if (Messages.length === 0) continue;
        // Handed to Lambda's asynchronous queue: SNS has delivered them, whatever the function does.
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: subscription.queueUrl,
            Entries: Messages.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
        for (const message of Messages) {
          const event = snsEvent(JSON.parse(message.Body ?? "{}"), subscription.subscriptionArn);
          void invokeAsync(subscription.fn, event, {
            log,
            what: `SNS delivery (${subscription.logicalId})`,
            signal,
            deadLetter: deadLetter ? { queue: deadLetter, sqs } : undefined,
          });
        }
      } catch (error) {
        if (signal.aborted) break;
        log(`SNS delivery (${subscription.logicalId}) to ${subscription.fn.id}: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
