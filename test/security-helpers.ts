/** Helpers shared by the security tests (not a test file itself). */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlipguardError } from '../src/errors.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The compiled CLI entry point. */
export const cli = join(here, '..', 'src', 'cli', 'main.js');
/** The repository root (dist/test → ../..). */
export const repoRoot = resolve(here, '..', '..');

/** The message of the FlipguardError that `fn` throws (fails on anything else). */
export function refusal(fn: () => unknown): string {
  let message = '';
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FlipguardError, `expected a FlipguardError, got ${String(e)}`);
    message = e.message;
    return true;
  });
  return message;
}

/** Runs the CLI without blocking the test process; a hang past `timeout` ms shows as code null. */
export function runCli(args: string[], timeout = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => done({ code, out, err }));
  });
}

/** Runs jobs at most `width` at a time (the test machine has few cores). */
export async function runPool<T>(jobs: (() => Promise<T>)[], width = 3): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) { const i = next++; out[i] = await jobs[i](); }
  }));
  return out;
}
