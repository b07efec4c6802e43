/** Lambda's asynchronous invocation rules: two retries after a failure, then the event is given up. */
import { describe, expect, it } from "vitest";
import { invokeAsync } from "../../src/async-invoke.ts";
import type { InvokeResult, LocalFunction } from "../../src/functions.ts";
import { snsEvent } from "../../src/sns.ts";

/** A function that answers these results in turn (its code is not what is under test). */
const scripted = (results: InvokeResult[]) => {
  const events: unknown[] = [];
  const fn = {
    id: "Fn",
    invoke: async (event: unknown) => {
      events.push(event);
      return results.shift() ?? { ok: true, payload: null };
    },
  } as unknown as LocalFunction;
  return { fn, events };
};
const failure: InvokeResult = { ok: false, error: { errorType: "Boom", errorMessage: "failed" } };

describe("asynchronous invocation", () => {
  it("retries a failed event twice and stops at the first success", async () => {
    const { fn, events } = scripted([failure, failure, { ok: true, payload: 1 }]);
    const lines: string[] = [];
    const result = await invokeAsync(
      fn,
      { n: 1 },
      { log: (line) => lines.push(line), what: "event invoke", retryDelaysMs: [0, 0] },
    );
    expect(result).toEqual({ ok: true, attempts: 3 });
    expect(events).toEqual([{ n: 1 }, { n: 1 }, { n: 1 }]);
    expect(lines).toEqual([
      "event invoke of Fn failed: Boom: failed (attempt 1 of 3, retried in 0 s)",
      "event invoke of Fn failed: Boom: failed (attempt 2 of 3, retried in 0 s)",
    ]);
  });

  it("gives an event up after three failed attempts, and says so", async () => {
    const { fn, events } = scripted([failure, failure, failure, { ok: true, payload: 1 }]);
    const lines: string[] = [];
    const result = await invokeAsync(
      fn,
      {},
      { log: (line) => lines.push(line), what: "event invoke", retryDelaysMs: [0, 0] },
    );
    expect(result).toEqual({ ok: false, attempts: 3 });
    expect(events).toHaveLength(3);
    expect(lines.at(-1)).toBe("event invoke of Fn failed: Boom: failed (attempt 3, no retry left)");
  });
});

describe("the SNS event", () => {
  it("is built from the queue delivery's envelope as SNS invokes Lambda", () => {
    const event = snsEvent(
      {
        Type: "Notification",
        MessageId: "m1",
        TopicArn: "arn:aws:sns:us-east-1:000000000000:T",
        Message: "hello",
        Timestamp: "2026-01-01T00:00:00.000Z",
        SignatureVersion: "1",
        Signature: "EXAMPLE",
        SigningCertURL: "https://cert",
        UnsubscribeURL: "https://unsubscribe",
      },
      "arn:aws:sns:us-east-1:000000000000:T:sub",
    );
    expect(event).toEqual({
      Records: [
        {
          EventSource: "aws:sns",
          EventVersion: "1.0",
          EventSubscriptionArn: "arn:aws:sns:us-east-1:000000000000:T:sub",
          Sns: {
            Type: "Notification",
            MessageId: "m1",
            TopicArn: "arn:aws:sns:us-east-1:000000000000:T",
            Subject: null,
            Message: "hello",
            Timestamp: "2026-01-01T00:00:00.000Z",
            SignatureVersion: "1",
            Signature: "EXAMPLE",
            SigningCertUrl: "https://cert",
            UnsubscribeUrl: "https://unsubscribe",
            MessageAttributes: {},
          },
        },
      ],
    });
  });
});
