import * as T from '@tessera/tensor';
import { checkNumNodes, intTensor, readEdges } from './edges.js';

export interface ConnectedComponentsOptions {
  numNodes?: number;
  /** 'weak' (default): ignore edge directions; 'strong': strongly connected components. */
  connection?: 'weak' | 'strong';
}

export interface ConnectedComponentsResult {
  numComponents: number;
  /** int32 [N]: the component of each node. Components are numbered in order of their smallest node. */
  labels: T.Tensor;
}

/**
 * Connected components (scipy's `connected_components`): weak ones by union–find, strong ones by
 * Tarjan's algorithm (iterative). Isolated nodes are components of their own. Async: the edge
 * index is read back.
 */
export async function connectedComponents(edgeIndex: T.Tensor, options: ConnectedComponentsOptions = {}): Promise<ConnectedComponentsResult> {
  const op = 'connectedComponents';
  const connection = options.connection ?? 'weak';
  if (connection !== 'weak' && connection !== 'strong') throw new TypeError(`${op}: connection must be 'weak' or 'strong', received '${String(connection)}'`);
  const { row, col, numNodes } = await readEdges(op, edgeIndex, checkNumNodes(op, options.numNodes));
  const root = connection === 'weak' ? weakRoots(row, col, numNodes) : strongRoots(row, col, numNodes);
  // renumber by smallest node: scanning nodes in order meets each component first at its smallest node
  const labelOf = new Map<number, number>();
  const labels = new Int32Array(numNodes);
  for (let v = 0; v < numNodes; v++) {
    let l = labelOf.get(root[v]);
    if (l === undefined) {
      l = labelOf.size;
      labelOf.set(root[v], l);
    }
    labels[v] = l;
  }
  return { numComponents: labelOf.size, labels: intTensor(labels, edgeIndex.device) };
}

function weakRoots(row: Int32Array, col: Int32Array, n: number): Int32Array {
  const parent = new Int32Array(n);
  for (let v = 0; v < n; v++) parent[v] = v;
  const find = (v: number): number => {
    while (parent[v] !== v) {
      parent[v] = parent[parent[v]];
      v = parent[v];
    }
    return v;
  };
  for (let e = 0; e < row.length; e++) {
    const a = find(row[e]);
    const b = find(col[e]);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  }
  for (let v = 0; v < n; v++) parent[v] = find(v);
  return parent;
}

/** Tarjan's strongly connected components with an explicit stack; returns a component id per node. */
function strongRoots(row: Int32Array, col: Int32Array, n: number): Int32Array {
  // CSR of out-edges
  const start = new Int32Array(n + 1);
  for (const r of row) start[r + 1]++;
  for (let v = 0; v < n; v++) start[v + 1] += start[v];
  const adj = new Int32Array(row.length);
  const fill = start.slice(0, n);
  for (let e = 0; e < row.length; e++) adj[fill[row[e]]++] = col[e];

  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const comp = new Int32Array(n).fill(-1);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const callStack: number[] = []; // node being visited
  const nextEdge = new Int32Array(n); // next out-edge of that node to look at
  let counter = 0;
  let components = 0;
  for (let s = 0; s < n; s++) {
    if (index[s] >= 0) continue;
    callStack.push(s);
    index[s] = low[s] = counter++;
    nextEdge[s] = start[s];
    stack.push(s);
    onStack[s] = 1;
    while (callStack.length > 0) {
      const v = callStack[callStack.length - 1];
      if (nextEdge[v] < start[v + 1]) {
        const w = adj[nextEdge[v]++];
        if (index[w] < 0) {
          index[w] = low[w] = counter++;
          nextEdge[w] = start[w];
          stack.push(w);
          onStack[w] = 1;
          callStack.push(w);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v], index[w]);
        }
        continue;
      }
      callStack.pop();
      if (callStack.length > 0) {
        const parent = callStack[callStack.length - 1];
        low[parent] = Math.min(low[parent], low[v]);
      }
      if (low[v] === index[v]) {
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = 0;
          comp[w] = components;
        } while (w !== v);
        components++;
      }
    }
  }
  return comp;
}
