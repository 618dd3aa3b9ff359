/** Mean, sample standard deviation and the reproduction table shared by the graph examples. */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

export interface ReproRow {
  model: string;
  dataset: string;
  split: string;
  checkpoint: string;
  /** Accuracies in percent, one per seed or fold. */
  accuracies: number[];
  /** The paper's number in percent (and its std where the paper gives one). */
  paper: number;
  paperStd?: number;
  /** The floor the mean must reach, in percent. */
  floor: number;
}

export function floorMet(r: ReproRow): boolean {
  return mean(r.accuracies) >= r.floor;
}

/** A markdown table: model, dataset, split, checkpoint rule, mean ± std, paper, Δ, floor met? */
export function reproTable(rows: readonly ReproRow[]): string {
  const lines = [
    '| model | dataset | split | checkpoint rule | runs | mean ± std (%) | paper (%) | Δ | floor | met? |',
    '|---|---|---|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const m = mean(r.accuracies);
    const paper = r.paperStd === undefined ? r.paper.toFixed(1) : `${r.paper.toFixed(1)} ± ${r.paperStd.toFixed(1)}`;
    const d = m - r.paper;
    lines.push(`| ${r.model} | ${r.dataset} | ${r.split} | ${r.checkpoint} | ${r.accuracies.length} | ${m.toFixed(2)} ± ${std(r.accuracies).toFixed(2)} | ${paper} | ${d >= 0 ? '+' : ''}${d.toFixed(2)} | ≥ ${r.floor.toFixed(1)} | ${floorMet(r) ? 'yes' : '**NO**'} |`);
  }
  return lines.join('\n');
}
