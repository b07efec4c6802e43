/**
 * A proposal number ("ballot"): a counter and the proposer's id, totally ordered by (counter, proposerId).
 * Stored as a fixed-width string so DynamoDB condition expressions compare ballots with `<` and `<=`.
 */
export interface Ballot {
  counter: number;
  proposerId: string;
}

const WIDTH = 15;

export const ZERO_BALLOT = "";

export function encodeBallot(ballot: Ballot): string {
  if (!Number.isSafeInteger(ballot.counter) || ballot.counter < 0)
    throw new Error(`bad ballot counter ${ballot.counter}`);
  return `${String(ballot.counter).padStart(WIDTH, "0")}:${ballot.proposerId}`;
}

export function decodeBallot(encoded: string): Ballot {
  const separator = encoded.indexOf(":");
  return { counter: Number(encoded.slice(0, separator)), proposerId: encoded.slice(separator + 1) };
}

/** Encoded ballots compare as strings; the empty string is below every ballot. */
export function compareBallots(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The ballot `by` (default 1) counts above `encoded`, for `proposerId`. */
export function nextBallot(encoded: string, proposerId: string, by = 1): string {
  return encodeBallot({ counter: (encoded ? decodeBallot(encoded).counter : 0) + by, proposerId });
}
