// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON and assert on its shape.
export type Json = any;

export const readJson = (response: Response): Promise<Json> => response.json();
