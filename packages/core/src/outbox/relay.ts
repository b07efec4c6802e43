/**
 * The Relay's work: outbox records (from the outbox table's stream) to ChangesQueue, in batches of up to
 * ten, with MessageGroupId = the key (see messageGroupId for keys longer than SQS allows; the FIFO group is the per-key order and the queue-side lock) and
 * MessageDeduplicationId = the outbox id (a record relayed twice is enqueued once within SQS's
 * five-minute deduplication window; the consumers' lastUpdate rule and claims cover the rest).
 *
 * A batch also stays within SQS's size limit, 1 MiB for its messages together (a batch over it is
 * refused as a whole, and would be refused again on every retry: the shard would stop there); a record
 * whose message alone is over it can never be sent, and is poison.
 *
 * A failure to send is retried by the event source from the first failed record (records after it are
 * reported failed too, so a key's changes keep their order). A record that can never be sent — it does
 * not parse, or SQS rejects it as the sender's fault — is poison: it is quarantined with its full
 * content, since a stream's failure destination only keeps pointers into a stream that forgets after
 * 24 hours, and the shard moves on. `replayQuarantine` sends quarantined records again.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { z } from "zod";
import { keySchema } from "../validation.ts";
import { messageGroupId } from "./outbox.ts";

/** A stream record of the outbox table, as the Relay and the replay see it. */
export interface RelayRecord {
  sequenceNumber: string;
  image: Record<string, AttributeValue>;
}

export interface RelayTarget {
  sqs: Pick<SQSClient, "send">;
  queueUrl: string;
  quarantine(record: RelayRecord, reason: string): Promise<void>;
}

export interface RelayOutcome {
  sent: number;
  quarantined: number;
  /** Sequence numbers to retry: the first record that could not be sent and every one after it. */
  failed: string[];
  /** Why the first failed record could not be sent. */
  error?: string;
}

const outboxItem = z.object({
  id: z.string().regex(/^[A-Za-z0-9!-/:-@[-`{-~]{1,128}$/, "must be a valid MessageDeduplicationId"),
  key: keySchema,
  version: z.string().min(1),
  payload: z.string().refine((payload) => {
    try {
      const parsed = JSON.parse(payload);
      return typeof parsed === "object" && parsed !== null && "key" in parsed && "version" in parsed;
    } catch {
      return false;
    }
  }, "must be a JSON change message"),
});

type Parsed = { record: RelayRecord; item: z.infer<typeof outboxItem> };

const MAX_BATCH = 10;
/** SQS's limit on one message, and on a batch's messages together (1 MiB since 2025). */
export const MAX_BATCH_BYTES = 1024 * 1024;

export async function relay(records: RelayRecord[], target: RelayTarget): Promise<RelayOutcome> {
  const outcome: RelayOutcome = { sent: 0, quarantined: 0, failed: [] };
  let batch: Parsed[] = [];
  let batchBytes = 0;

  const failFrom = (index: number) => {
    outcome.failed = records.slice(index).map((record) => record.sequenceNumber);
  };
  const flush = async (): Promise<boolean> => {
    if (batch.length === 0) return true;
    const current = batch;
    batch = [];
    batchBytes = 0;
    const firstIndex = records.indexOf(current[0]!.record);
    let response: SendMessageBatchCommandOutput;
    try {
      response = await target.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: target.queueUrl,
          Entries: current.map(({ item }, index) => ({
            Id: String(index),
            MessageBody: item.payload,
            MessageGroupId: messageGroupId(item.key),
            MessageDeduplicationId: item.id,
          })),
        }),
      );
    } catch (error) {
      failFrom(firstIndex);
      outcome.error = String(error);
      return false;
    }
    const failures = new Map((response.Failed ?? []).map((failure) => [Number(failure.Id), failure]));
    for (const [index, entry] of current.entries()) {
      const failure = failures.get(index);
      if (!failure) {
        outcome.sent++;
        continue;
      }
      if (failure.SenderFault) {
        await target.quarantine(entry.record, `SQS rejected it: ${failure.Code} ${failure.Message ?? ""}`);
        outcome.quarantined++;
        continue;
      }
      failFrom(records.indexOf(entry.record));
      outcome.error = `${failure.Code} ${failure.Message ?? ""}`;
      return false;
    }
    return true;
  };

  for (const record of records) {
    const parsed = outboxItem.safeParse(unmarshallSafe(record.image));
    if (!parsed.success) {
      // Keep the order: send what came before, then set the poison record aside.
      if (!(await flush())) return outcome;
      await target.quarantine(record, `not an outbox record: ${z.prettifyError(parsed.error)}`);
      outcome.quarantined++;
      continue;
    }
    const bytes = Buffer.byteLength(parsed.data.payload);
    if (bytes > MAX_BATCH_BYTES) {
      if (!(await flush())) return outcome;
      await target.quarantine(record, `its message is ${bytes} bytes; SQS takes at most ${MAX_BATCH_BYTES}`);
      outcome.quarantined++;
      continue;
    }
    if (batchBytes + bytes > MAX_BATCH_BYTES && !(await flush())) return outcome;
    batch.push({ record, item: parsed.data });
    batchBytes += bytes;
    if (batch.length === MAX_BATCH && !(await flush())) return outcome;
  }
  await flush();
  return outcome;
}

function unmarshallSafe(image: Record<string, AttributeValue>): unknown {
  try {
    return unmarshall(image);
  } catch {
    return undefined;
  }
}
