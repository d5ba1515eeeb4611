/**
 * `npm run bench [-- NAME…]`: runs the benchmarks (all by default) and appends each result with the
 * command to bench/RESULTS.md.
 */
import { appendResults } from './results.js';
import { benchEvaluate, benchParameterSwap } from './evaluate.js';
import { benchCampaigns } from './campaign.js';
import { benchResume } from './resume.js';
import { benchTrain } from './train.js';
import { benchTrainInterop } from './train-interop.js';
import { benchInteropMatrix, interopMatrixCommand } from './interop-matrix.js';
import { benchQueue } from './queue.js';
import { benchPrune } from '../src/workflows/bench-prune.js';
import { benchPerSample } from '../src/analysis/per-sample.js';
import { buildModel } from '../src/models/index.js';
import { benchAnalysis } from '../src/workflows/bench-analysis.js';
import { formatTable } from '../src/cli/table.js';
import { benchOverhead, overheadCommand } from './overhead.js';
import { benchProtection, protectionCommand } from './protection.js';
import { benchPaperConventions, paperConventionsCommand } from './paper-conventions.js';
import { benchTmrBits, benchTmrBitsCampaign, benchTmrBitsCampaignFormats, tmrBitsCampaignCommand, tmrBitsCampaignFormatsCommand, tmrBitsCommand } from './tmr-bits.js';
import { benchFormats, formatsCommand } from './formats.js';
import { benchFormatsHarden, benchFormatsProtection, formatsHardenCommand, formatsProtectionCommand } from './formats-harden.js';

const benches: Record<string, { title: string; run: () => Promise<string>; command?: () => string }> = {
  evaluate: { title: 'evaluate vs bare onnxruntime', run: () => benchEvaluate() },
  swap: { title: 'parameter swapping', run: () => benchParameterSwap() },
  campaign: { title: 'campaign trials/s and exact shortcuts', run: () => benchCampaigns() },
  train: { title: 'training throughput', run: () => benchTrain() },
  'train-interop': { title: 'train --from on real exports (issue 13)', run: () => benchTrainInterop() },
  'interop-matrix': { title: 'every command on every interop fixture (issue 13)', run: () => benchInteropMatrix(), command: interopMatrixCommand },
  queue: { title: 'Redis queue: trials/s with workers, overhead per trial', run: () => benchQueue() },
  resume: { title: 'resume validation cost', run: () => benchResume() },
  analysis: { title: 'importance scores speed', run: async () => { const r = await benchAnalysis(); return typeof r === 'string' ? r : (r as { text?: string; table?: string }).text ?? (r as { table?: string }).table ?? JSON.stringify(r, null, 1); } },
  prune: { title: 'pruned model speed', run: async () => (await benchPrune()).text },
  overhead: { title: 'hardened model time overhead (issue 14)', run: () => benchOverhead(), command: overheadCommand },
  protection: { title: 'protection of the issue-14 constructions', run: () => benchProtection(), command: protectionCommand },
  tmrbits: { title: 'tmr-bits: critical-bit TMR time overhead (issue 17)', run: () => benchTmrBits(), command: tmrBitsCommand },
  formats: { title: 'int8 campaign speed: QDQ-aware prefix cuts (issue 15)', run: () => benchFormats(), command: formatsCommand },
  'paper-conventions': { title: 'the papers at their own conventions (issue 17)', run: () => benchPaperConventions('BC'), command: paperConventionsCommand('BC') },
  'paper-conventions-b': { title: 'paper B at its own conventions (issue 17)', run: () => benchPaperConventions('B'), command: paperConventionsCommand('B') },
  'paper-conventions-c': { title: 'paper C at its own conventions (issue 17)', run: () => benchPaperConventions('C'), command: paperConventionsCommand('C') },
  'tmrbits-campaign': { title: 'tmr-bits campaign trials/s: the foldBits shortcut (issue 17)', run: () => benchTmrBitsCampaign(), command: tmrBitsCampaignCommand },
  'tmrbits-campaign-formats': { title: 'foldBits on float16 and int8 tmr-bits models (issue 17)', run: () => benchTmrBitsCampaignFormats(), command: tmrBitsCampaignFormatsCommand },
  'formats-harden': { title: 'hardened int8 and float16 models: time overhead (issue 15)', run: () => benchFormatsHarden(), command: formatsHardenCommand },
  'formats-harden-native': { title: 'hardened native float16 models: time overhead (issue 15, native harden)', run: () => benchFormatsHarden(['float16-native']), command: () => formatsHardenCommand('formats-harden-native') },
  'formats-protection': { title: 'hardened int8 and float16 models: protection (issue 15)', run: () => benchFormatsProtection(), command: formatsProtectionCommand },
  persample: {
    title: 'per-sample gradients vs batch-1 loop',
    run: async () => {
      const rows: (string | number)[][] = [];
      for (const [label, model, batch] of [
        ['lenet5 (1×28×28)', buildModel('lenet5', { inputShape: [1, 28, 28], classes: 10 }), 64],
        ['vgg11 w0.25 (1×28×28)', buildModel('vgg11', { inputShape: [1, 28, 28], classes: 10, width: 0.25 }), 32],
        ['resnet20 (1×28×28)', buildModel('resnet20', { inputShape: [1, 28, 28], classes: 10 }), 16],
      ] as const) {
        const r = await benchPerSample(model, batch);
        rows.push([label, `${r.images}×${r.seedsPerImage}`, r.inGraphMs.toFixed(0), r.loopMs.toFixed(0), `${r.speedup.toFixed(2)}×`, r.maxRelDiff.toExponential(1)]);
      }
      return 'Per-sample squared channel gradient norms (Eq. 1 numerators; all conv/dense layers; seeds = predicted-class margins), in-graph vs a batch-size-1 loop:\n\n```\n' + formatTable(['model', 'images×seeds', 'in-graph ms', 'loop ms', 'speed-up', 'max rel diff'], rows) + '\n```';
    },
  },
};

const wanted = process.argv.slice(2);
for (const w of wanted) if (!benches[w]) { console.error(`unknown bench "${w}"; choose from ${Object.keys(benches).join(', ')}`); process.exit(2); }
for (const [name, b] of Object.entries(benches)) {
  if (wanted.length && !wanted.includes(name)) continue;
  console.error(`bench ${name}…`);
  const body = await b.run();
  console.log(`\n## ${b.title}\n${body}\n`);
  appendResults(b.title, b.command?.() ?? `npm run bench -- ${name}`, body);
}
