/** Reshape: dx = dy reshaped to x's run-time shape (the target-shape input gets no gradient). */
import { registerRule } from '../rule.js';
import { reshapeLikeInputRule } from './Flatten.js';

registerRule('Reshape', reshapeLikeInputRule);
