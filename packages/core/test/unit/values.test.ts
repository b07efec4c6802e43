/** Keys and values the API accepts travel exactly (through SQS included); what cannot is refused. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ERROR_STATUS } from "../../src/api/contract.ts";
import { DomainError } from "../../src/errors.ts";
import { parseBody } from "../../src/http/responses.ts";
import { changeMessageSchema, messageGroupId, outboxRecord } from "../../src/outbox/outbox.ts";
import { KEY_PATTERN, keySchema, numberProblem, valueSchema } from "../../src/validation.ts";

const body = z.object({ value: valueSchema });
const request = (text: string) => ({ body: text, isBase64Encoded: false }) as Parameters<typeof parseBody>[0];
const refusal = (text: string) => {
  try {
    parseBody(request(text), body);
  } catch (error) {
    if (error instanceof DomainError)
      return { status: ERROR_STATUS[error.code], code: error.code, message: error.message };
    throw error;
  }
  return undefined;
};

/**
 * SQS's rules for a FIFO message (the documented ones the Relay depends on); for the body, the stricter
 * set the SQS emulator enforces (no characters beyond the BMP), which SQS's own set contains.
 */
const SQS_BODY = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]*$/;
const SQS_GROUP_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

describe("values that cannot be stored and read back exactly are refused with 400", () => {
  it("refuses a value nested 200,000 levels deep without overflowing the stack", () => {
    const deep = `{"value":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    expect(refusal(deep)).toMatchObject({
      status: 400,
      code: "InvalidBody",
      message: expect.stringMatching(/nested deeper than 64/),
    });
    expect(refusal(`{"value":${"[".repeat(64)}${"]".repeat(64)}}`)).toBeUndefined();
  });

  it("refuses numbers JSON or JavaScript cannot carry exactly", () => {
    expect(refusal('{"value":1e400}')).toMatchObject({ status: 400 });
    expect(refusal('{"value":[9007199254740993]}')).toMatchObject({ status: 400, code: "InvalidNumber" });
    expect(refusal('{"value":{"pi":3.14159265358979323846}}')).toMatchObject({
      status: 400,
      code: "InvalidNumber",
    });
    for (const fine of [
      "9007199254740991",
      "-9007199254740991",
      "0.1",
      "1.0",
      "-0",
      "1e300",
      "1.5e-300",
      '"9007199254740993"',
    ])
      expect(refusal(`{"value":${fine}}`), fine).toBeUndefined();
  });

  it("looks at numbers only, not at digits inside strings", () => {
    expect(numberProblem('{"a":"12345678901234567890123","b":"x\\"99999999999999999999"}')).toBeUndefined();
    expect(numberProblem('{"a":"x\\\\", "b": 99999999999999999999}')).toMatch(/beyond/);
  });
});

describe("every key and value the API accepts travels exactly", () => {
  const key = fc.stringMatching(KEY_PATTERN);
  const value = fc.jsonValue({ maxDepth: 4 }).filter((candidate) => valueSchema.safeParse(candidate).success);

  it("fits SQS's group id and body rules and parses back to the same change (property)", () => {
    fc.assert(
      fc.property(
        key,
        value,
        fc.constantFrom("", "\uFFFE", "\uFFFF", "\uD800", "\u0000", "😀"),
        (k, v, odd) => {
          expect(keySchema.safeParse(k).success).toBe(true);
          const change = { key: k, version: "000001700000000.000001", value: [v, `a${odd}b`] };
          const record = outboxRecord("id-1", change, 0);
          expect(record.payload).toMatch(SQS_BODY);
          expect(messageGroupId(k)).toMatch(SQS_GROUP_ID);
          // The same JSON as the request's (JSON has one zero: -0 reads back as 0, as it does everywhere).
          expect(JSON.stringify(changeMessageSchema.parse(JSON.parse(record.payload)))).toBe(
            JSON.stringify(change),
          );
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  });

  it("gives keys longer than 128 characters distinct group ids", () => {
    const a = `${"k".repeat(150)}a`;
    const b = `${"k".repeat(150)}b`;
    expect(messageGroupId(a)).toHaveLength(128);
    expect(messageGroupId(a)).not.toBe(messageGroupId(b));
    expect(messageGroupId("short")).toBe("short");
  });
});
