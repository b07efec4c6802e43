/** Input rules of the HTTP API contract, shared by every route. */
import { z } from "zod";

export const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
export const MAX_VALUE_BYTES = 64 * 1024;

export const keySchema = z.string().regex(KEY_PATTERN, "must match ^[A-Za-z0-9._:-]{1,200}$");

/**
 * A mesh client id: a key. An id of decimal digits only is the client's index (0, 1, 2, ...), written
 * without a leading zero and with at most 15 digits, so every index is exact in a double and names one
 * client; any other key is a name, hashed to an index. So `9999999999999999` is refused, never hashed.
 */
export const CLIENT_INDEX = /^(0|[1-9]\d{0,14})$/;
export const clientIdSchema = keySchema.refine(
  (id) => !/^\d+$/.test(id) || CLIENT_INDEX.test(id),
  "a client id of digits only is the client's index: at most 15 digits, without a leading zero",
);

/**
 * A whole number in a query string, from `min` to `max`: decimal digits only, so `1e3`, `0x10`, `+5`,
 * ` 5` and `5.0` are refused rather than read as numbers. (A typed client may pass the number itself.)
 */
export const queryCount = (min: number, max: number) =>
  z.preprocess(
    (input) => (typeof input === "string" && /^(0|[1-9]\d{0,15})$/.test(input) ? Number(input) : input),
    z
      .int({
        error: (issue) =>
          typeof issue.input === "string"
            ? "must be a whole number in decimal digits (no sign, exponent, point or leading zero)"
            : undefined,
      })
      .min(min)
      .max(max),
  );

/** The deepest nesting of arrays and objects a value may have. */
export const MAX_VALUE_DEPTH = 64;

/**
 * Why a parsed JSON value could not be stored and read back exactly, or undefined when it can: nesting
 * beyond MAX_VALUE_DEPTH (checked without recursion, so a deep value cannot overflow the stack), or a
 * number that is not finite (`1e400` parses to Infinity, which JSON writes as null).
 */
export function valueProblem(value: unknown): string | undefined {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (typeof node === "number" && !Number.isFinite(node))
      return "holds a number JSON cannot carry (too large: it would be stored as null)";
    if (typeof node !== "object" || node === null) continue;
    if (depth >= MAX_VALUE_DEPTH) return `is nested deeper than ${MAX_VALUE_DEPTH} levels`;
    for (const child of Object.values(node)) stack.push({ node: child, depth: depth + 1 });
  }
  return undefined;
}

/**
 * Why JSON text holds a number that JavaScript (and so every reader of the value) cannot read back
 * exactly, or undefined: an integer beyond ±(2^53 − 1), or more significant digits than a double keeps.
 * Checked on the text, since parsing already rounded it.
 */
export function numberProblem(text: string): string | undefined {
  const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      continue;
    }
    if (c !== "-" && (c < "0" || c > "9")) continue;
    number.lastIndex = i;
    const match = number.exec(text);
    if (!match) continue;
    const literal = match[0];
    i += literal.length - 1;
    if (!Number.isFinite(Number(literal))) return `${literal.slice(0, 40)} is too large for a JSON number`;
    if (match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(Number(literal)))
      return `${literal.slice(0, 40)} is beyond ±(2^53 − 1): it would not read back exactly; send it as a string`;
    const digits = literal
      .replace(/^-/, "")
      .replace(/[eE].*$/, "")
      .replace(".", "")
      .replace(/^0+/, "");
    if (digits.replace(/0+$/, "").length > 17)
      return `${literal.slice(0, 40)} has more digits than a double keeps; send it as a string`;
  }
  return undefined;
}

/** Any JSON value of at most 64 KiB serialized that reads back exactly; `undefined` (a missing field) is not a value. */
export const valueSchema = z.unknown().superRefine((value, context) => {
  if (value === undefined) {
    context.addIssue({ code: "custom", message: "is required" });
    return;
  }
  const problem = valueProblem(value);
  if (problem) {
    context.addIssue({ code: "custom", message: problem });
    return;
  }
  const size = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (size > MAX_VALUE_BYTES) {
    context.addIssue({
      code: "custom",
      message: `is ${size} bytes serialized; the limit is ${MAX_VALUE_BYTES}`,
    });
  }
});

/**
 * JSON text with only the characters SQS accepts in a message body (#x9 #xA #xD #x20–#xD7FF
 * #xE000–#xFFFD #x10000–#x10FFFF). JSON.stringify already escapes control characters and lone
 * surrogates; U+FFFE and U+FFFF it leaves raw, so they are escaped here, and so are characters beyond the
 * BMP (as their surrogate pairs), which the SQS emulator and some SQS-compatible queues refuse although
 * SQS itself takes them. The text parses to exactly the same value.
 */
export function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\uFFFE\uFFFF\uD800-\uDFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}
