/** Appends a bench result section (with the command that produced it) to bench/RESULTS.md. */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/RESULTS.md in the source tree (dist/bench → ../../bench). */
export const RESULTS = join(here, '..', '..', 'bench', 'RESULTS.md');

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}

export function appendResults(title: string, command: string, body: string): void {
  if (!existsSync(RESULTS)) writeFileSync(RESULTS, '# flipguard benchmark results\n\nEach section: what was measured, the command, the machine, the numbers (all ratios measured in one run).\n');
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  appendFileSync(RESULTS, `\n## ${title} — ${date}\n\nCommand: \`${command}\`  \nMachine: ${machine()}\n\n${body.trim()}\n`);
}

