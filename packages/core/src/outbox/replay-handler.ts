/**
 * OutboxReplay, run by an operator (see docs/outbox.md) or on a schedule: relays the quarantined outbox
 * records again, and the batches the Relay gave up on (pointers on its failure queue, read back from the
 * stream, or from the outbox table once the stream has forgotten them). `outboxReplayHandler` takes its
 * ports, so the function and the outbox simulation run the same code.
 */
import type { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { replayFailedBatches } from "./failed-batches.ts";
import type { Quarantine } from "./quarantine.ts";

export interface OutboxReplayPorts {
  streams: Pick<DynamoDBStreamsClient, "send">;
  sqs: Pick<SQSClient, "send">;
  documents: Pick<DynamoDBDocumentClient, "send">;
  quarantine: Pick<Quarantine, "put" | "replay">;
  changesQueueUrl: string;
  relayFailuresQueueUrl: string;
  outboxTable: string;
  /** A logger (Powertools' Logger fits). */
  logger: { info(message: string, extra: Record<string, unknown>): void };
  now?: () => number;
}

export function outboxReplayHandler(ports: OutboxReplayPorts) {
  return async () => {
    const target = {
      sqs: ports.sqs,
      queueUrl: ports.changesQueueUrl,
      quarantine: (record: Parameters<Quarantine["put"]>[0], reason: string) =>
        ports.quarantine.put(record, reason),
    };
    const failedBatches = await replayFailedBatches(ports.streams, ports.relayFailuresQueueUrl, target, {
      documents: ports.documents,
      tableName: ports.outboxTable,
      now: ports.now,
    });
    const quarantined = await ports.quarantine.replay(ports.sqs, ports.changesQueueUrl);
    const result = { failedBatches, quarantined };
    ports.logger.info("outbox replay", result);
    return result;
  };
}
