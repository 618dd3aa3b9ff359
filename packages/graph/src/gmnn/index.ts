export { GMNN, drawLabels, type GMNNCheckpoint, type GMNNData, type GMNNDraw, type GMNNEpochLog, type GMNNOptimizer, type GMNNOptimizerState, type GMNNOptions, type GMNNPhase, type GMNNResult } from './gmnn.js';
export { GMNNGCN, type GMNNGCNOptions, type GMNNNodeModel } from './model.js';
