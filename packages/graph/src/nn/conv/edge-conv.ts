import * as T from '@tessera/tensor';
import type { Tensor } from '@tessera/tensor';
import { Module } from '@tessera/nn';
import type { Aggregation } from '../aggr.js';
import { MessagePassing, type MessageArgs } from '../message-passing.js';
import { checkGraph } from '../util.js';

/**
 * Edge convolution of DGCNN (Wang et al.; PyG's EdgeConv): x'_i = max_{j→i} nn([x_i, x_j - x_i]).
 * forward(x, edgeIndex); nn maps 2C channels to the output. State: nn.*.
 */
export class EdgeConv extends MessagePassing {
  nn: Module;

  constructor(nn: Module, options: { aggr?: Aggregation | readonly Aggregation[] } = {}) {
    super({ aggr: options.aggr ?? 'max', fuse: false });
    if (!(nn instanceof Module)) throw new TypeError(`EdgeConv: expected nn to be a Module, received ${nn === null ? 'null' : typeof nn}`);
    this.nn = nn;
  }

  forward(x: Tensor, edgeIndex: Tensor): Tensor {
    checkGraph(this, x, edgeIndex);
    return this.propagate(edgeIndex, { x });
  }

  override message({ x_i, x_j }: MessageArgs): Tensor {
    return this.nn.forward(T.cat([x_i, T.sub(x_j, x_i)], -1));
  }
}
