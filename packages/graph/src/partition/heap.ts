/**
 * A max-priority queue over the integers 0..capacity-1 with changeable keys (an indexed binary
 * heap): the move queues of the bisection's graph growing and Fiduccia–Mattheyses refinement.
 * Ties are broken by the smaller item, so the order is deterministic.
 */
export class IndexedMaxHeap {
  readonly #key: Float64Array;
  readonly #heap: Int32Array;
  readonly #pos: Int32Array; // position of an item in #heap, -1 when absent
  #size = 0;

  constructor(capacity: number) {
    this.#key = new Float64Array(capacity);
    this.#heap = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity).fill(-1);
  }

  get size(): number {
    return this.#size;
  }

  has(item: number): boolean {
    return this.#pos[item] >= 0;
  }

  /** Inserts `item`, or changes its key when it is already queued. */
  set(item: number, key: number): void {
    const p = this.#pos[item];
    if (p < 0) {
      this.#key[item] = key;
      this.#heap[this.#size] = item;
      this.#pos[item] = this.#size++;
      this.#up(this.#size - 1);
      return;
    }
    const old = this.#key[item];
    this.#key[item] = key;
    if (key > old) this.#up(p);
    else if (key < old) this.#down(p);
  }

  /** The item with the largest key (-1 when empty), left in the queue. */
  peek(): number {
    return this.#size > 0 ? this.#heap[0] : -1;
  }

  key(item: number): number {
    return this.#key[item];
  }

  /** Removes and returns the item with the largest key (-1 when empty). */
  pop(): number {
    if (this.#size === 0) return -1;
    const top = this.#heap[0];
    this.delete(top);
    return top;
  }

  delete(item: number): void {
    const p = this.#pos[item];
    if (p < 0) return;
    const last = this.#heap[--this.#size];
    this.#pos[item] = -1;
    if (p === this.#size) return;
    this.#heap[p] = last;
    this.#pos[last] = p;
    this.#up(p);
    this.#down(this.#pos[last]);
  }

  clear(): void {
    for (let i = 0; i < this.#size; i++) this.#pos[this.#heap[i]] = -1;
    this.#size = 0;
  }

  #above(a: number, b: number): boolean {
    const ka = this.#key[a];
    const kb = this.#key[b];
    return ka > kb || (ka === kb && a < b);
  }

  #up(p: number): void {
    const heap = this.#heap;
    const item = heap[p];
    while (p > 0) {
      const parent = (p - 1) >> 1;
      if (!this.#above(item, heap[parent])) break;
      heap[p] = heap[parent];
      this.#pos[heap[p]] = p;
      p = parent;
    }
    heap[p] = item;
    this.#pos[item] = p;
  }

  #down(p: number): void {
    const heap = this.#heap;
    const item = heap[p];
    const n = this.#size;
    for (;;) {
      let c = 2 * p + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#above(heap[c + 1], heap[c])) c++;
      if (!this.#above(heap[c], item)) break;
      heap[p] = heap[c];
      this.#pos[heap[p]] = p;
      p = c;
    }
    heap[p] = item;
    this.#pos[item] = p;
  }
}
