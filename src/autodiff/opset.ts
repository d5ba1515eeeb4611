/** The in-graph opset upgrade lives in graph/upgrade.ts (transforms use it too); re-exported for existing imports. */
export { upgradeOpset, GRADIENT_OPSET } from '../graph/upgrade.js';
