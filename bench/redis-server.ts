/**
 * A private redis-server for tests and benches: a free loopback port, a temporary folder, no
 * persistence, never a system service. `redisServerAvailable` tells whether the binary exists.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** A TCP port nobody listens on right now (loopback). */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); });
  });
}

/** Starts redis-server (extra arguments e.g. --requirepass); `stop` ends it and removes its folder. */
export async function startRedisServer(extra: string[] = []): Promise<{ port: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-redis-'));
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  // a test that times out never reaches its `stop`: the server must not outlive this process
  const orphan = () => child.kill('SIGKILL');
  process.once('exit', orphan);
  let log = '';
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`redis-server did not start within 15 s: ${log}`)), 15000);
    child.stdout!.on('data', (d) => { log += d; if (/Ready to accept connections/.test(log)) { clearTimeout(t); res(); } });
    child.once('exit', (c) => { clearTimeout(t); rej(new Error(`redis-server exited (${c}): ${log}`)); });
  });
  return {
    port,
    stop: async () => {
      process.off('exit', orphan);
      const gone = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await gone;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
