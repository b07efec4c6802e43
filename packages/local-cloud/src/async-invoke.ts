/**
 * Lambda's asynchronous invocation (InvocationType Event, SNS, ...): the caller is answered at once;
 * the event is invoked, and retried twice when the function fails, as Lambda does by default (it waits
 * about a minute, then two; here 1 s, then 2 s, so that a local run sees them). An event that fails
 * every attempt goes to the function's dead-letter queue when it has one, else it is only logged.
 */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { LocalFunction } from "./functions.ts";
import type { LocalQueue } from "./resources.ts";

export const ASYNC_RETRY_DELAYS_MS = [1_000, 2_000];

export interface AsyncInvokeOptions {
  log: (line: string) => void;
  /** What the log calls it ("event invoke", "SNS delivery of Topic"). */
  what: string;
  retryDelaysMs?: number[];
  /** The function's dead-letter queue (its DeadLetterConfig), with a client to send to it. */
  deadLetter?: { queue: LocalQueue; sqs: SQSClient };
  /** Stops the retries (the cloud is stopping). */
  signal?: AbortSignal;
}

/** Invokes until the function succeeds or the retries are spent; never rejects. Answers the attempts. */
export async function invokeAsync(
  fn: LocalFunction,
  event: unknown,
  options: AsyncInvokeOptions,
  payload?: string,
): Promise<{ ok: boolean; attempts: number }> {
  const delays = options.retryDelaysMs ?? ASYNC_RETRY_DELAYS_MS;
  let attempts = 0;
  let lastError = "";
  for (;;) {
    attempts++;
    const result = await fn.invoke(event, undefined, payload).catch((error: Error) => ({
      ok: false as const,
      error: { errorType: "Runtime.Stopped", errorMessage: error.message },
    }));
    if (result.ok) return { ok: true, attempts };
    lastError = `${result.error.errorType}: ${result.error.errorMessage}`;
    const delay = delays[attempts - 1];
    if (delay === undefined || options.signal?.aborted) break;
    options.log(
      `${options.what} of ${fn.id} failed: ${lastError} (attempt ${attempts} of ${delays.length + 1}, retried in ${delay / 1000} s)`,
    );
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (options.signal?.aborted) break;
  }
  options.log(`${options.what} of ${fn.id} failed: ${lastError} (attempt ${attempts}, no retry left)`);
  if (options.deadLetter) {
    const { queue, sqs } = options.deadLetter;
    await sqs
      .send(
        new SendMessageCommand({
          QueueUrl: queue.url,
          MessageBody: payload ?? JSON.stringify(event),
          MessageAttributes: {
            RequestID: { DataType: "String", StringValue: crypto.randomUUID() },
            ErrorCode: { DataType: "Number", StringValue: "200" },
            ErrorMessage: { DataType: "String", StringValue: lastError.slice(0, 1000) },
          },
          ...(queue.fifo ? { MessageGroupId: fn.name, MessageDeduplicationId: crypto.randomUUID() } : {}),
        }),
      )
      .then(
        () =>
          options.log(`${options.what} of ${fn.id}: the event went to its dead-letter queue ${queue.name}`),
        (error: Error) =>
          options.log(`${options.what} of ${fn.id}: its dead-letter queue refused it: ${error}`),
      );
  }
  return { ok: false, attempts };
}
