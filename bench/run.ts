/**
 * `npm run bench [-- NAME…]`: runs the benchmarks (all by default) and appends each result with the
 * command to bench/RESULTS.md.
 */
import { appendResults } from './results.js';
import { benchEvaluate, benchParameterSwap } from './evaluate.js';

const benches: Record<string, { title: string; run: () => Promise<string> }> = {
  evaluate: { title: 'evaluate vs bare onnxruntime', run: () => benchEvaluate() },
  swap: { title: 'parameter swapping', run: () => benchParameterSwap() },
};

const wanted = process.argv.slice(2);
for (const w of wanted) if (!benches[w]) { console.error(`unknown bench "${w}"; choose from ${Object.keys(benches).join(', ')}`); process.exit(2); }
for (const [name, b] of Object.entries(benches)) {
  if (wanted.length && !wanted.includes(name)) continue;
  console.error(`bench ${name}…`);
  const body = await b.run();
  console.log(`\n## ${b.title}\n${body}\n`);
  appendResults(b.title, `npm run bench -- ${name}`, body);
}
