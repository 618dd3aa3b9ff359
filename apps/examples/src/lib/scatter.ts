/** A minimal SVG scatter plot (points coloured by class, optional labels), no plotting dependency. */
export interface ScatterPoint {
  x: number;
  y: number;
  cls: number;
  label?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function scatterSvg(points: readonly ScatterPoint[], options: { title: string; classNames?: string[]; size?: number }): string {
  const S = options.size ?? 420;
  const pad = 36;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const range = (v: number[]) => {
    let lo = Math.min(...v);
    let hi = Math.max(...v);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
    if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
    return [lo, hi] as const;
  };
  const [x0, x1] = range(xs);
  const [y0, y1] = range(ys);
  const px = (v: number) => pad + ((v - x0) / (x1 - x0)) * (S - 2 * pad);
  const py = (v: number) => S - pad - ((v - y0) / (y1 - y0)) * (S - 2 * pad);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${S}" height="${S}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="white"/>',
    `<text x="${S / 2}" y="18" text-anchor="middle" font-size="14">${esc(options.title)}</text>`,
    `<rect x="${pad}" y="${pad}" width="${S - 2 * pad}" height="${S - 2 * pad}" fill="none" stroke="#999"/>`,
  ];
  for (const p of points) {
    const c = PALETTE[p.cls % PALETTE.length];
    out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="6" fill="${c}" fill-opacity="0.8" stroke="#333" stroke-width="0.5"/>`);
    if (p.label) out.push(`<text x="${(px(p.x) + 7).toFixed(1)}" y="${(py(p.y) + 3).toFixed(1)}" font-size="9">${esc(p.label)}</text>`);
  }
  (options.classNames ?? []).forEach((name, i) => {
    out.push(`<text x="${S - pad - 4}" y="${pad + 14 + 14 * i}" text-anchor="end" font-size="11" fill="${PALETTE[i % PALETTE.length]}">${esc(name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
