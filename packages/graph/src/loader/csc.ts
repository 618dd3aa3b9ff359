import type * as T from '@tessera/tensor';
import { readEdges } from '../utils/edges.js';

/**
 * In-neighbourhoods in compressed form, kept on the host: the sources of the edges into node v
 * are `row[colPtr[v] .. colPtr[v + 1])`, in input order, and `edgeId` holds each entry's column in
 * the original edge index. With the default flow source → target these are the neighbours whose
 * messages node v aggregates, i.e. the ones a neighbour sampler draws from.
 */
export interface CscAdjacency {
  readonly numNodes: number;
  /** int [numNodes + 1]. */
  readonly colPtr: Int32Array;
  /** Source node of each entry [E]. */
  readonly row: Int32Array;
  /** Position of each entry in the original edge index [E]. */
  readonly edgeId: Int32Array;
}

/** The CSC form of host edge arrays (a stable counting sort by target). */
export function cscFromArrays(row: Int32Array, col: Int32Array, numNodes: number): CscAdjacency {
  const E = row.length;
  const colPtr = new Int32Array(numNodes + 1);
  for (let e = 0; e < E; e++) colPtr[col[e] + 1]++;
  for (let v = 0; v < numNodes; v++) colPtr[v + 1] += colPtr[v];
  const next = colPtr.slice(0, numNodes);
  const rowOut = new Int32Array(E);
  const edgeId = new Int32Array(E);
  for (let e = 0; e < E; e++) {
    const at = next[col[e]]++;
    rowOut[at] = row[e];
    edgeId[at] = e;
  }
  return { numNodes, colPtr, row: rowOut, edgeId };
}

/**
 * Groups the edges of `edgeIndex` (int32 [2, E]: sources, targets) by target node. Async: the edge
 * index is read back once; sample from the result as often as needed.
 */
export async function toCsc(edgeIndex: T.Tensor, numNodes?: number): Promise<CscAdjacency> {
  const { row, col, numNodes: n } = await readEdges('toCsc', edgeIndex, numNodes);
  return cscFromArrays(row, col, n);
}
