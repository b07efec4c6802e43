// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON and assert on its shape.
export type Json = any;

export const readJson = (response: Response): Promise<Json> => response.json();

/** How to call each API base URL: a SigV4-signing fetch when its routes need IAM authorization. */
const fetchers = new Map<string, typeof fetch>();

export function registerFetch(baseUrl: string, call: typeof fetch): void {
  fetchers.set(baseUrl, call);
}

/** The fetch to use for `baseUrl` (signing, if the target registered one). */
export const fetchFor = (baseUrl: string): typeof fetch => fetchers.get(baseUrl) ?? fetch;

/** Calls the API with an optional JSON body and headers; answers the status, the parsed body and the headers. */
export async function callApiWithHeaders(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetchFor(baseUrl)(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await readJson(response), headers: response.headers };
}

/** Calls the API with an optional JSON body and headers; answers the status and the parsed body. */
export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const { status, body: parsed } = await callApiWithHeaders(baseUrl, method, path, body, headers);
  return { status, body: parsed };
}

/** Runs `work(i)` for every i below `count`, at most `limit` at a time; results in index order. */
export async function pool<T>(
  count: number,
  limit: number,
  work: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await work(index);
      }
    }),
  );
  return results;
}
