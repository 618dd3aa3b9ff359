export { Optimizer, type OptimizerStateDict, type ParamGroup, type ParamState, type ParamsArg } from './optimizer.js';
export * from './optimizers/index.js';
export * from './schedules.js';
export * from './clip.js';
export * from './averaging.js';
