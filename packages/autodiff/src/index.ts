export { backward, gradOf, noGrad, enableGrad, isGradEnabled, detach, defineGrad, hasGrad, sumToShape, type GradRule, type RuleContext, type BackwardOptions } from './engine.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type DiffFn } from './gradcheck.js';
import './rules/elementwise.js';
