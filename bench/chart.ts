const escapeXml = (text: string) =>
  text.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
const COLORS = ["#175cd3", "#f79009", "#b42318", "#067647", "#6941c6", "#667085"];
/** About how wide a label is at `size` px (sans-serif averages a little over half the size per character). */
const textWidth = (text: string, size: number) => Math.ceil(text.length * size * 0.58);

/** A legend: a swatch and a name per series, each after the previous one's text. */
/** The legend from `left`, wrapped onto more lines before `right`; answers its markup and its height. */
function legend(
  names: string[],
  left: number,
  right = Number.POSITIVE_INFINITY,
): { markup: string; height: number } {
  let x = left;
  let y = 22;
  const items = names.map((name, s) => {
    const width = 16 + textWidth(name, 11) + 18;
    if (x > left && x + width - 18 > right) {
      x = left;
      y += 16;
    }
    const item = `<rect x="${x}" y="${y}" width="12" height="10" fill="${COLORS[s % COLORS.length]}"/><text x="${x + 16}" y="${y + 9}" font-size="11">${escapeXml(name)}</text>`;
    x += width;
    return item;
  });
  return { markup: items.join(""), height: y - 22 };
}

const format = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** One group of bars per case, one bar per series (p50, p99, ...), on a log axis in milliseconds. */
export function latencyChart(
  title: string,
  series: string[],
  cases: Array<{ name: string; values: number[] }>,
): string {
  const label = Math.max(160, ...cases.map((c) => textWidth(c.name, 12))) + 16;
  const plot = 520;
  const bar = 12;
  const group = series.length * bar + 12;
  const top = 48;
  const height = top + cases.length * group + 40;
  const width = label + plot + 80;
  const all = cases.flatMap((c) => c.values).filter((v) => v > 0);
  const low = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const high = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const x = (ms: number) => label + (Math.log10(Math.max(ms, low) / low) / Math.log10(high / low)) * plot;
  const parts: string[] = [];
  for (let tick = low; tick <= high; tick *= 10)
    parts.push(
      `<line x1="${x(tick)}" y1="${top - 6}" x2="${x(tick)}" y2="${height - 34}" stroke="#d9dee3"/>`,
      `<text x="${x(tick)}" y="${height - 20}" font-size="11" text-anchor="middle" fill="#66707a">${tick} ms</text>`,
    );
  cases.forEach((c, i) => {
    const y = top + i * group;
    parts.push(
      `<text x="${label - 8}" y="${y + (series.length * bar) / 2 + 4}" font-size="12" text-anchor="end">${escapeXml(c.name)}</text>`,
    );
    c.values.forEach((value, s) => {
      const y0 = y + s * bar;
      parts.push(
        `<rect x="${label}" y="${y0}" width="${Math.max(1, x(value) - label)}" height="${bar - 2}" fill="${COLORS[s % COLORS.length]}"/>`,
        `<text x="${x(value) + 4}" y="${y0 + bar - 3}" font-size="10" fill="#1d232a">${format(value)}</text>`,
      );
    });
  });
  return svg(width, height, title, `${legend(series, label).markup}${parts.join("")}`);
}

/** One stacked bar per row: the stages' values (milliseconds unless `unit` says) side by side, on a linear axis. */
export function stageChart(
  title: string,
  stages: string[],
  rows: Array<{ name: string; values: number[] }>,
  unit = "ms",
): string {
  const label = Math.max(80, ...rows.map((r) => textWidth(r.name, 12))) + 16;
  const plot = 600;
  const bar = 22;
  const width = label + plot + 80;
  const key = legend(stages, label, width - 12);
  const top = 48 + key.height;
  const height = top + rows.length * (bar + 10) + 40;
  const max = Math.max(...rows.map((r) => r.values.reduce((a, b) => a + b, 0)));
  const scale = plot / max;
  const parts: string[] = [];
  rows.forEach((row, i) => {
    const y = top + i * (bar + 10);
    parts.push(
      `<text x="${label - 8}" y="${y + bar / 2 + 4}" font-size="12" text-anchor="end">${escapeXml(row.name)}</text>`,
    );
    let at = label;
    row.values.forEach((value, s) => {
      const w = value * scale;
      parts.push(
        `<rect x="${at}" y="${y}" width="${Math.max(0, w)}" height="${bar}" fill="${COLORS[s % COLORS.length]}"/>`,
      );
      if (w > 34)
        parts.push(
          `<text x="${at + w / 2}" y="${y + bar / 2 + 4}" font-size="10" text-anchor="middle" fill="#fff">${format(value)}</text>`,
        );
      at += w;
    });
    parts.push(
      `<text x="${at + 4}" y="${y + bar / 2 + 4}" font-size="11">${format(row.values.reduce((a, b) => a + b, 0))} ${unit}</text>`,
    );
  });
  return svg(width, height, title, `${key.markup}${parts.join("")}`);
}

function svg(width: number, height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" role="img" aria-labelledby="title">
<title id="title">${escapeXml(title)}</title>
<rect width="100%" height="100%" fill="#fff"/>
<text x="12" y="16" font-size="13" font-weight="600">${escapeXml(title)}</text>
${body}
</svg>
`;
}
