/**
 * A model of SQS behind the SQS client's `send(command)`, for the outbox simulation: FIFO queues (message
 * groups, the 5-minute deduplication window by MessageDeduplicationId, the visibility timeout, a redrive
 * to a dead-letter queue after maxReceiveCount) and standard queues (no order, and an occasional second
 * delivery of a message that is in flight).
 *
 * What SQS refuses is refused here: more than 10 entries a batch, ids and group ids outside 1–128
 * characters of `[!-~]`, bodies with characters outside SQS's set (#x9 #xA #xD #x20–#xD7FF
 * #xE000–#xFFFD #x10000–#x10FFFF) or over 1 MiB, batches whose messages add up to more than 1 MiB
 * (SQS's limits since 2025; 256 KiB before), deletes and visibility changes with a receipt handle
 * that is not the message's latest. Faults: a send that fails as a whole, a send whose messages landed
 * but whose answer was lost (the SDK or the caller sends again), entries failed by the service
 * (not the sender's fault), and outages of SendMessage.
 */
export const DEDUPLICATION_WINDOW_MS = 5 * 60 * 1000;
/** SQS's limit on a message and on a batch's messages together. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface QueueDefinition {
  url: string;
  fifo: boolean;
  visibilityTimeoutSeconds: number;
  deadLetter?: { url: string; maxReceiveCount: number };
}

export interface SqsFaults {
  /** Share of send requests that fail as a whole (nothing enqueued). */
  requestErrorRate?: number;
  /** Share of send requests whose messages land but whose answer is lost (the caller sees an error). */
  lostAnswerRate?: number;
  /** Share of batch entries the service fails (not the sender's fault: retry). */
  entryFailureRate?: number;
  /** While true for a queue, every SendMessage and SendMessageBatch to it fails. */
  sendOutage?: (url: string) => boolean;
}

export interface Message {
  messageId: string;
  body: string;
  groupId?: string;
  deduplicationId?: string;
  sentAt: number;
  receiveCount: number;
  visibleAt: number;
  receiptHandle?: string;
}

class SqsError extends Error {
  override readonly name: string;
  readonly $fault: "client" | "server";

  constructor(name: string, message: string, $fault: "client" | "server" = "client") {
    super(message);
    this.name = name;
    this.$fault = $fault;
  }
}

const BODY_CHARACTERS = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;
const ID_CHARACTERS = /^[!-~]{1,128}$/;

export class SqsModel {
  private readonly queues = new Map<
    string,
    {
      definition: QueueDefinition;
      messages: Message[];
      deduplication: Map<string, { id: string; at: number }>;
    }
  >();
  private counter = 0;
  faults: SqsFaults;

  private readonly options: { now: () => number; random: () => number; faults?: SqsFaults };

  constructor(
    definitions: QueueDefinition[],
    options: { now: () => number; random: () => number; faults?: SqsFaults },
  ) {
    this.options = options;
    this.faults = options.faults ?? {};
    for (const definition of definitions)
      this.queues.set(definition.url, { definition, messages: [], deduplication: new Map() });
  }

  /** Enqueues a message as AWS itself does (an event source's on-failure destination): no faults. */
  enqueue(url: string, body: string): void {
    const now = this.options.now();
    this.queue(url).messages.push({
      messageId: `m-${++this.counter}`,
      body,
      sentAt: now,
      receiveCount: 0,
      visibleAt: now,
    });
  }

  /** Messages in a queue, visible or in flight. */
  depth(url: string): number {
    return this.queue(url).messages.length;
  }

  async send(command: { input: Record<string, unknown>; constructor: { name: string } }) {
    const input = command.input;
    switch (command.constructor.name) {
      case "SendMessageCommand": {
        const result = this.sendBatch(String(input.QueueUrl), [{ Id: "0", ...input }]);
        if (result.Failed.length > 0) {
          const failure = result.Failed[0]!;
          throw new SqsError(failure.Code, failure.Message, failure.SenderFault ? "client" : "server");
        }
        return { MessageId: result.Successful[0]!.MessageId };
      }
      case "SendMessageBatchCommand":
        return this.sendBatch(String(input.QueueUrl), input.Entries as Array<Record<string, unknown>>);
      case "ReceiveMessageCommand":
        return {
          Messages: this.receive(String(input.QueueUrl), Number(input.MaxNumberOfMessages ?? 1)).map(
            (message) => ({
              MessageId: message.messageId,
              ReceiptHandle: message.receiptHandle,
              Body: message.body,
              Attributes: this.attributes(message),
            }),
          ),
        };
      case "DeleteMessageCommand":
        this.delete(String(input.QueueUrl), String(input.ReceiptHandle));
        return {};
      case "ChangeMessageVisibilityBatchCommand": {
        const entries = input.Entries as Array<{
          Id: string;
          ReceiptHandle: string;
          VisibilityTimeout: number;
        }>;
        if (entries.length > 10) throw new SqsError("TooManyEntriesInBatchRequest", "at most 10 entries");
        const Successful: Array<{ Id: string }> = [];
        const Failed: Array<{ Id: string; Code: string; SenderFault: boolean }> = [];
        for (const entry of entries) {
          try {
            this.changeVisibility(String(input.QueueUrl), entry.ReceiptHandle, entry.VisibilityTimeout);
            Successful.push({ Id: entry.Id });
          } catch (error) {
            Failed.push({ Id: entry.Id, Code: (error as Error).name, SenderFault: true });
          }
        }
        return { Successful, Failed };
      }
      default:
        throw new Error(`the SQS model does not know ${command.constructor.name}`);
    }
  }

  private queue(url: string) {
    const queue = this.queues.get(url);
    if (!queue) throw new SqsError("QueueDoesNotExist", `no queue ${url}`);
    return queue;
  }

  private sendBatch(url: string, entries: Array<Record<string, unknown>>) {
    const queue = this.queue(url);
    const now = this.options.now();
    if (entries.length === 0 || entries.length > 10)
      throw new SqsError("TooManyEntriesInBatchRequest", `${entries.length} entries; 1 to 10 allowed`);
    if (new Set(entries.map((entry) => entry.Id)).size !== entries.length)
      throw new SqsError("BatchEntryIdsNotDistinct", "two entries share an id");
    const total = entries.reduce((sum, entry) => sum + Buffer.byteLength(String(entry.MessageBody ?? "")), 0);
    if (total > MAX_BODY_BYTES) throw new SqsError("BatchRequestTooLong", `${total} bytes in one batch`);
    if (this.faults.sendOutage?.(url))
      throw new SqsError("ServiceUnavailable", "SQS is unavailable", "server");
    if (this.options.random() < (this.faults.requestErrorRate ?? 0))
      throw new SqsError("InternalError", "the request failed", "server");
    const lost = this.options.random() < (this.faults.lostAnswerRate ?? 0);

    const Successful: Array<{ Id: string; MessageId: string }> = [];
    const Failed: Array<{ Id: string; Code: string; Message: string; SenderFault: boolean }> = [];
    for (const entry of entries) {
      const id = String(entry.Id);
      const body = String(entry.MessageBody ?? "");
      const problem = this.problem(queue.definition, entry, body);
      if (problem) {
        Failed.push({ Id: id, Code: "InvalidParameterValue", Message: problem, SenderFault: true });
        continue;
      }
      if (this.options.random() < (this.faults.entryFailureRate ?? 0)) {
        Failed.push({ Id: id, Code: "InternalError", Message: "try again", SenderFault: false });
        continue;
      }
      if (queue.definition.fifo) {
        const deduplicationId = String(entry.MessageDeduplicationId);
        const seen = queue.deduplication.get(deduplicationId);
        if (seen && now - seen.at < DEDUPLICATION_WINDOW_MS) {
          // Accepted and dropped: the same id within the window is one message.
          Successful.push({ Id: id, MessageId: seen.id });
          continue;
        }
      }
      const message: Message = {
        messageId: `m-${++this.counter}`,
        body,
        ...(queue.definition.fifo
          ? { groupId: String(entry.MessageGroupId), deduplicationId: String(entry.MessageDeduplicationId) }
          : {}),
        sentAt: now,
        receiveCount: 0,
        visibleAt: now,
      };
      if (message.deduplicationId)
        queue.deduplication.set(message.deduplicationId, { id: message.messageId, at: now });
      queue.messages.push(message);
      Successful.push({ Id: id, MessageId: message.messageId });
    }
    if (lost) throw new SqsError("RequestTimeout", "the answer was lost", "server");
    return { Successful, Failed };
  }

  private problem(
    definition: QueueDefinition,
    entry: Record<string, unknown>,
    body: string,
  ): string | undefined {
    if (body.length === 0) return "the message body is empty";
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) return "the message body is over 1 MiB";
    if (!BODY_CHARACTERS.test(body)) return "the message body has characters SQS does not allow";
    if (!definition.fifo) return undefined;
    if (!ID_CHARACTERS.test(String(entry.MessageGroupId ?? "")))
      return "MessageGroupId must be 1 to 128 characters of [!-~]";
    if (!ID_CHARACTERS.test(String(entry.MessageDeduplicationId ?? "")))
      return "MessageDeduplicationId must be 1 to 128 characters of [!-~]";
    return undefined;
  }

  /** ReceiveMessage: FIFO keeps each group in order and never hands out a group with a message in flight. */
  receive(url: string, max: number): Message[] {
    const queue = this.queue(url);
    const now = this.options.now();
    const picked: Message[] = [];
    // A group with any message in flight hands out nothing, whatever the position of that message.
    const busyGroups = new Set(
      queue.messages.filter((message) => message.visibleAt > now).map((message) => message.groupId),
    );
    const candidates = queue.definition.fifo
      ? [...queue.messages]
      : [...queue.messages].sort(() => this.options.random() - 0.5);
    for (const message of candidates) {
      if (picked.length >= max) break;
      if (message.visibleAt > now) continue;
      if (queue.definition.fifo && busyGroups.has(message.groupId)) continue;
      const deadLetter = queue.definition.deadLetter;
      if (deadLetter && message.receiveCount >= deadLetter.maxReceiveCount) {
        // Received too often: moved to the dead-letter queue instead of delivered.
        queue.messages.splice(queue.messages.indexOf(message), 1);
        this.queue(deadLetter.url).messages.push({ ...message, receiveCount: 0, visibleAt: now });
        continue;
      }
      message.receiveCount++;
      message.receiptHandle = `${message.messageId}#${message.receiveCount}`;
      // A standard queue sometimes hands a message out again while it is in flight.
      const duplicate = !queue.definition.fifo && this.options.random() < 0.02;
      if (!duplicate) message.visibleAt = now + queue.definition.visibilityTimeoutSeconds * 1000;
      picked.push(message);
    }
    return picked.map((message) => ({ ...message }));
  }

  delete(url: string, receiptHandle: string): void {
    const queue = this.queue(url);
    const index = queue.messages.findIndex((message) => message.receiptHandle === receiptHandle);
    if (index < 0) {
      if (queue.definition.fifo)
        throw new SqsError("ReceiptHandleIsInvalid", `the receipt handle ${receiptHandle} is not current`);
      return;
    }
    queue.messages.splice(index, 1);
  }

  changeVisibility(url: string, receiptHandle: string, seconds: number): void {
    const message = this.queue(url).messages.find((candidate) => candidate.receiptHandle === receiptHandle);
    if (!message || message.visibleAt <= this.options.now())
      throw new SqsError("MessageNotInflight", `no message in flight under ${receiptHandle}`);
    message.visibleAt = this.options.now() + seconds * 1000;
  }

  attributes(message: Message): Record<string, string> {
    return {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      ApproximateFirstReceiveTimestamp: String(message.sentAt),
      ...(message.groupId
        ? { MessageGroupId: message.groupId, MessageDeduplicationId: message.deduplicationId! }
        : {}),
    };
  }
}
