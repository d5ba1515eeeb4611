/**
 * Versions and machine facts for the report's provenance section, read on the machine that makes
 * the report: flipguard's version from its package.json, Node, onnxruntime-node, the charting
 * libraries, the OS, CPU model and core count.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, availableParallelism, cpus, platform, release, totalmem, type } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arr, at, obj, str, type Obj } from '../util/validate.js';

const require = createRequire(import.meta.url);

/** Facts about the machine that made the report (or ran the commands, in a provenance file). */
export interface MachineInfo {
  os: string;
  platform: string;
  arch: string;
  cpu: string;
  cores: number;
  /** Total memory, GiB. */
  memoryGiB: number;
}

/** The nearest package.json at or above `dir` whose name is `name` (undefined if none). */
function findPackageJson(dir: string, name?: string): { name?: string; version?: string } | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p)) {
      try {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
        if (name === undefined || pkg.name === name) return pkg;
      } catch {
        // an unreadable package.json: keep looking upward
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

/** Version of an installed package, found from its entry point ('not installed' when absent). */
export function packageVersion(name: string): string {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return 'not installed';
  }
  return findPackageJson(dirname(entry), name)?.version ?? 'unknown';
}

/** flipguard's own version, from the package.json above this module. */
export function flipguardVersion(): string {
  return findPackageJson(dirname(fileURLToPath(import.meta.url)), 'flipguard')?.version ?? 'unknown';
}

/** Versions that matter for reproducing results and the report. */
export function collectVersions(): Record<string, string> {
  return {
    flipguard: flipguardVersion(),
    node: process.version.replace(/^v/, ''),
    'onnxruntime-node': packageVersion('onnxruntime-node'),
    vega: packageVersion('vega'),
    'vega-lite': packageVersion('vega-lite'),
  };
}

/** OS, CPU and memory of this machine. */
export function collectMachine(): MachineInfo {
  const c = cpus();
  return {
    os: `${type()} ${release()}`,
    platform: platform(),
    arch: arch(),
    cpu: c[0]?.model?.trim() || 'unknown',
    cores: typeof availableParallelism === 'function' ? availableParallelism() : c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}

/**
 * Provenance JSON, an input of the report: what produced the other files (the exact commands, in
 * order; seeds; package versions and machine facts of the run, e.g. `collectVersions`, `collectMachine`).
 */
export interface ProvenanceFile {
  commands: string[];
  seeds?: unknown[];
  versions?: Record<string, string>;
  machine?: Record<string, unknown>;
}

/** Reads a provenance JSON (`ProvenanceFile`); throws a FieldError naming the first bad field. */
export function readProvenanceFile(o: Obj): ProvenanceFile {
  const commands = arr(o.commands, 'commands').map((c, i) => str(c, at('commands', i)));
  const out: ProvenanceFile = { commands };
  if (o.seeds !== undefined) out.seeds = arr(o.seeds, 'seeds');
  if (o.versions !== undefined) {
    const v = obj(o.versions, 'versions');
    out.versions = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  }
  if (o.machine !== undefined) out.machine = obj(o.machine, 'machine');
  return out;
}
