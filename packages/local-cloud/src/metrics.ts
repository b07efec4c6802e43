/**
 * The metrics the functions emit, read the way CloudWatch reads them: from the embedded metric format
 * (EMF) lines in their output. Summed per namespace, metric, function and dimensions, and served at
 * `GET /_local/metrics` on the Lambda API port.
 */
export interface MetricTotal {
  namespace: string;
  name: string;
  functionId: string;
  dimensions: Record<string, string>;
  unit?: string;
  /** Sum of every value emitted, and how many values. */
  sum: number;
  count: number;
}

interface EmfDirective {
  Namespace: string;
  Dimensions?: string[][];
  Metrics: Array<{ Name: string; Unit?: string }>;
}

export class LocalMetrics {
  private readonly totals = new Map<string, MetricTotal>();

  /** Reads one output line of a function; anything but an EMF document is ignored. */
  observe(functionId: string, line: string): void {
    if (!line.startsWith("{") || !line.includes('"_aws"')) return;
    let document: Record<string, unknown> & { _aws?: { CloudWatchMetrics?: EmfDirective[] } };
    try {
      document = JSON.parse(line);
    } catch {
      return;
    }
    for (const directive of document._aws?.CloudWatchMetrics ?? []) {
      const dimensions = Object.fromEntries(
        (directive.Dimensions?.[0] ?? []).map((name) => [name, String(document[name])]),
      );
      for (const metric of directive.Metrics) {
        const raw = document[metric.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter(
          (value): value is number => typeof value === "number",
        );
        const key = JSON.stringify([directive.Namespace, metric.Name, functionId, dimensions]);
        const total = this.totals.get(key) ?? {
          namespace: directive.Namespace,
          name: metric.Name,
          functionId,
          dimensions,
          unit: metric.Unit,
          sum: 0,
          count: 0,
        };
        total.sum += values.reduce((sum, value) => sum + value, 0);
        total.count += values.length;
        this.totals.set(key, total);
      }
    }
  }

  snapshot(): MetricTotal[] {
    return [...this.totals.values()].map((total) => ({ ...total }));
  }
}
