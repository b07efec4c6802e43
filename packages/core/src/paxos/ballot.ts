/**
 * A proposal number ("ballot"): a counter and the proposer's id, totally ordered by (counter, proposerId).
 * Stored as `counter:proposerId` with the counter zero-padded to a fixed width, so encoded ballots compare
 * as strings (DynamoDB condition expressions use `<` and `<=`); the empty string is below every ballot.
 */
export interface Ballot {
  counter: number;
  proposerId: string;
}

const WIDTH = 15;

export function encodeBallot(ballot: Ballot): string {
  if (!Number.isSafeInteger(ballot.counter) || ballot.counter < 0)
    throw new Error(`bad ballot counter ${ballot.counter}`);
  return `${String(ballot.counter).padStart(WIDTH, "0")}:${ballot.proposerId}`;
}

export function decodeBallot(encoded: string): Ballot {
  const separator = encoded.indexOf(":");
  return { counter: Number(encoded.slice(0, separator)), proposerId: encoded.slice(separator + 1) };
}

/** The ballot `by` (default 1) counts above `encoded`, for `proposerId`. */
export function nextBallot(encoded: string, proposerId: string, by = 1): string {
  return encodeBallot({ counter: (encoded ? decodeBallot(encoded).counter : 0) + by, proposerId });
}
