/** Input rules of the HTTP API contract, shared by every route. */
import { z } from "zod";

export const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;
export const MAX_VALUE_BYTES = 64 * 1024;

export const keySchema = z.string().regex(KEY_PATTERN, "must match ^[A-Za-z0-9._:-]{1,200}$");

/** Any JSON value of at most 64 KiB serialized; `undefined` (a missing field) is not a value. */
export const valueSchema = z.unknown().superRefine((value, context) => {
  if (value === undefined) {
    context.addIssue({ code: "custom", message: "is required" });
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
