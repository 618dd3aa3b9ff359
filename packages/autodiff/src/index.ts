export { backward, gradOf, noGrad, enableGrad, isGradEnabled, detach, defineGrad, hasGrad, sumToShape, type GradRule, type RuleContext, type BackwardOptions } from './engine.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type DiffFn } from './gradcheck.js';
export * from './functional.js';
import './rules/elementwise.js';
import './rules/reduction.js';
import './rules/movement.js';
import './rules/linalg.js';
import './rules/nn.js';
import './rules/indexing.js';
