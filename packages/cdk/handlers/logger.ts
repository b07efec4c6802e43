/** Structured log lines (JSON, one per line) as CloudWatch Logs Insights reads them. */
const line = (level: string) => (message: string, extra: Record<string, unknown>) =>
  console.log(JSON.stringify({ level, message, ...extra }));

export const logger = { info: line("INFO"), error: line("ERROR") };
