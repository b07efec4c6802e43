/** The first seed, from 1, whose run of `simulate` fails (a negative control must find one), or undefined. */
export async function firstFailure<R extends { ok: boolean }>(
  simulate: (seed: number) => Promise<R>,
  seeds: number,
): Promise<R | undefined> {
  for (let seed = 1; seed <= seeds; seed++) {
    const result = await simulate(seed);
    if (!result.ok) return result;
  }
  return undefined;
}
