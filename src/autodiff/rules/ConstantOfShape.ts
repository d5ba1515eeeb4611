/** ConstantOfShape: the output's values do not depend on the (integer) shape input. */
import { NON_DIFFERENTIABLE, registerRule } from '../rule.js';

registerRule('ConstantOfShape', NON_DIFFERENTIABLE);
