/** Unsqueeze: dx = dy reshaped to x's run-time shape (the axes input gets no gradient). */
import { registerRule } from '../rule.js';
import { reshapeLikeInputRule } from './Flatten.js';

registerRule('Unsqueeze', reshapeLikeInputRule);
