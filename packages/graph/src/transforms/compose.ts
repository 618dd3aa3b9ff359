import { Graph } from '../data/graph.js';
import { applyTransform, type GraphTransformLike } from '../data/dataset.js';

/**
 * A graph transform (PyG's `BaseTransform`): `forward` returns a new Graph and leaves its input
 * as it is (unchanged tensors are shared as views), so the caller disposes both when done.
 */
export interface GraphTransform {
  forward(graph: Graph): Promise<Graph>;
}

/** Checks the input of a transform's forward. */
export function checkGraph(op: string, graph: unknown): Graph {
  if (!(graph instanceof Graph)) throw new TypeError(`${op}: expected a Graph, received ${graph === null ? 'null' : typeof graph}`);
  if (graph.isDisposed) throw new Error(`${op}: the graph has been disposed`);
  return graph;
}

/** Applies transforms one after the other (the intermediate graphs are disposed). */
export class Compose implements GraphTransform {
  readonly transforms: readonly GraphTransformLike[];

  constructor(transforms: readonly GraphTransformLike[]) {
    if (!Array.isArray(transforms)) throw new TypeError('Compose: expected an array of transforms');
    transforms.forEach((t, i) => {
      if (typeof t !== 'function' && typeof (t as { forward?: unknown })?.forward !== 'function') {
        throw new TypeError(`Compose: transforms[${i}] is neither a function nor has a forward(graph) method`);
      }
    });
    this.transforms = transforms.slice();
  }

  async forward(graph: Graph): Promise<Graph> {
    let current = checkGraph('Compose', graph);
    for (const t of this.transforms) {
      const next = await applyTransform(t, current);
      if (current !== graph && next !== current) current.dispose();
      current = next;
    }
    // always hand back a graph the caller owns, even with no transforms
    return current === graph ? graph.with({}) : current;
  }

  toString(): string {
    return `Compose([${this.transforms.map((t) => (typeof t === 'function' ? t.name || 'function' : String(t))).join(', ')}])`;
  }
}
