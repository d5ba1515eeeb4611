/** Shape: its output (sizes) does not depend differentiably on the input. */
import { NON_DIFFERENTIABLE, registerRule } from '../rule.js';

registerRule('Shape', NON_DIFFERENTIABLE);
