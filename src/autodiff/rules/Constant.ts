/** Constant: no inputs, nothing to differentiate. */
import { NON_DIFFERENTIABLE, registerRule } from '../rule.js';

registerRule('Constant', NON_DIFFERENTIABLE);
