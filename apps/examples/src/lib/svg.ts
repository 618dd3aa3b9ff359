/** A minimal SVG line chart (no plotting dependency): one panel per metric, one line per series. */
export interface Series {
  label: string;
  values: number[];
  color: string;
}

export interface Panel {
  title: string;
  series: Series[];
}

const W = 420;
const H = 260;
const PAD = { l: 50, r: 12, t: 28, b: 34 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(p: Panel, x0: number): string {
  const all = p.series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(2, ...p.series.map((s) => s.values.length));
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5]; // a flat line still needs a vertical range
  const px = (i: number) => x0 + PAD.l + (i / (n - 1)) * (W - PAD.l - PAD.r);
  const py = (v: number) => PAD.t + (1 - (v - lo) / (hi - lo)) * (H - PAD.t - PAD.b);
  const out: string[] = [`<text x="${x0 + W / 2}" y="18" text-anchor="middle" font-size="14">${esc(p.title)}</text>`];
  out.push(`<rect x="${x0 + PAD.l}" y="${PAD.t}" width="${W - PAD.l - PAD.r}" height="${H - PAD.t - PAD.b}" fill="none" stroke="#999"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    out.push(`<text x="${x0 + PAD.l - 4}" y="${py(v) + 4}" text-anchor="end" font-size="10">${v.toPrecision(3)}</text>`);
  }
  out.push(`<text x="${x0 + W / 2}" y="${H - 8}" text-anchor="middle" font-size="11">epoch</text>`);
  p.series.forEach((s, j) => {
    const pts = s.values.map((v, i) => `${px(i).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const pt of pts.split(' ').filter(Boolean)) {
      const [cx, cy] = pt.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`);
    }
    out.push(`<text x="${x0 + W - PAD.r - 4}" y="${PAD.t + 14 + 14 * j}" text-anchor="end" font-size="11" fill="${s.color}">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

/** Panels side by side in one SVG document. */
export function lineChartsSvg(panels: Panel[]): string {
  const body = panels.map((p, i) => panel(p, i * W)).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`;
}
