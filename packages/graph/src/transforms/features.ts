import * as T from '@tessera/tensor';
import { GRAPH_KEYS, type Graph, type GraphChanges } from '../data/graph.js';
import { checkGraph, type GraphTransform } from './compose.js';

/**
 * Row-normalises node features to sum to 1 (PyG's `NormalizeFeatures`): each attribute in
 * `attrs` (default ['x']) is shifted by its global minimum, then each row divided by its sum
 * (rows that sum to less than 1, e.g. all-zero rows, are divided by 1 instead: no NaN).
 */
export class NormalizeFeatures implements GraphTransform {
  readonly attrs: readonly string[];

  constructor(options: { attrs?: readonly string[] } = {}) {
    this.attrs = options.attrs ?? ['x'];
  }

  async forward(graph: Graph): Promise<Graph> {
    const op = 'NormalizeFeatures';
    checkGraph(op, graph);
    const named: Record<string, T.Tensor> = {};
    const extra: Record<string, T.Tensor> = {};
    try {
      for (const key of this.attrs) {
        const v = graph.get(key);
        if (!v || v.size === 0) continue;
        if (v.dtype !== 'float32' && v.dtype !== 'float64') throw new TypeError(`${op}: expected ${key} to be a float tensor, received ${v.dtype}`);
        if (v.rank < 1) throw new RangeError(`${op}: expected ${key} of rank >= 1, received a 0-d tensor`);
        const out = T.tidy(() => {
          const shifted = T.sub(v, T.amin(v));
          return T.div(shifted, T.clamp(T.sum(shifted, { dim: -1, keepdim: true }), 1));
        });
        if ((GRAPH_KEYS as readonly string[]).includes(key)) named[key] = out;
        else extra[key] = out;
      }
      return graph.with({ ...(named as GraphChanges), extra });
    } catch (e) {
      T.dispose([named, extra]);
      throw e;
    }
  }

  toString(): string {
    return 'NormalizeFeatures()';
  }
}
