/**
 * Writing outputs without ever losing a file: the one place that decides whether flipguard may
 * write a path, and how. Every output (models, JSON, CSV, report folders, campaign records) goes
 * through here.
 *
 * Rules: an existing file is replaced only with `force`; the input model is never replaced, even
 * with `force` (same real path, or same device + inode, so symlinks and hard links count); a
 * symlink, folder or special file (device, FIFO, socket) as the target is refused, never replaced
 * or written through; paths under /proc and /sys are refused before any work starts; data goes to
 * a temporary file in the target's folder and is renamed over the target, so a reader never sees a
 * half-written file. A folder is only emptied of the files flipguard wrote there, listed in its
 * manifest (MANIFEST_NAME); everything else in it is kept, with or without `force`.
 */
import {
  closeSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { FlipguardError, opt } from '../errors.js';

export interface OutputOptions {
  /** Replace an existing regular file; for a folder, first remove the files flipguard wrote there. */
  force?: boolean;
  /** Paths never to replace or remove, even with `force` (the input model, report inputs). */
  protect?: readonly string[];
  /** What the path is, for messages (default "output" / "output folder"), e.g. "report folder". */
  label?: string;
}

/** The file in an output folder that lists what flipguard wrote there (paths relative to the folder). */
export const MANIFEST_NAME = '.flipguard-manifest.json';
/** A manifest larger than this is not one of ours (bytes). */
const MANIFEST_MAX_BYTES = 1 << 20;
const KERNEL_FS = ['/proc', '/sys'];

/**
 * One sentence for a failed file operation, naming the path, the error code and the fix.
 * `action` is what was attempted ("write", "create the folder", "lock").
 */
export function ioErrorMessage(e: unknown, path: string, action = 'write'): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const fix: Record<string, string> = {
    ENOSPC: 'the disk is full; free some space or choose a folder on another disk',
    EDQUOT: 'the disk quota is used up; free some space or choose another folder',
    EACCES: 'permission denied; choose a folder you can write to',
    EPERM: 'the operation is not permitted there; choose a folder you can write to',
    EROFS: 'the file system is read-only; choose a writable folder',
    ENOENT: 'a folder on the way does not exist; create it or check the path',
    ENOTDIR: 'a part of the path is a file, not a folder; check the path',
    EISDIR: 'it is a folder; give a file name',
    ENAMETOOLONG: 'the name is too long; choose a shorter path',
    EIO: 'the device reported an I/O error; check the disk and choose another folder',
    EMFILE: 'too many files are open; close other programs and try again',
    EEXIST: 'it appeared while flipguard was writing; choose a new name',
  };
  const why = (code && fix[code]) ?? `${(e as Error)?.message ?? String(e)}; choose a writable path`;
  return `Cannot ${action} "${path}" (${code ?? 'error'}: ${why}).`;
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest (for paths to be created). */
function realish(p: string): string {
  let cur = resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(cur), ...rest);
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return join(cur, ...rest);
      rest.unshift(basename(cur));
      cur = parent;
    }
  }
}

function underKernelFs(p: string): string | undefined {
  for (const real of [resolve(p), realish(p)]) {
    const hit = KERNEL_FS.find((k) => real === k || real.startsWith(k + sep));
    if (hit) return hit;
  }
  return undefined;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FlipguardError(ioErrorMessage(e, p, 'inspect'));
  }
}

/** Whether `target` (an existing file) is, or lies inside, one of the protected paths. */
function isProtected(target: string, st: Stats, protect: readonly string[] | undefined): boolean {
  if (!protect?.length) return false;
  const real = realish(target);
  for (const p of protect) {
    let ps: Stats;
    try { ps = statSync(p); } catch { continue; }
    if (ps.isDirectory()) {
      const rel = relative(realish(p), real);
      if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return true;
    } else if ((ps.dev === st.dev && ps.ino === st.ino) || realish(p) === real) return true;
  }
  return false;
}

/**
 * Checks that `path` may be written, before any work is done. Throws a FlipguardError naming the
 * path and the fix when it lies under /proc or /sys, is a symlink, a folder or a special file, is
 * protected (the input model), or exists without `force`. With `append`, an existing regular file
 * is fine (campaign records are resumed by appending).
 */
export function checkOutputPath(path: string, opts: OutputOptions & { append?: boolean } = {}): void {
  if (!path) throw new FlipguardError('An output path is empty; give a file name.');
  const kernel = underKernelFs(path);
  if (kernel) throw new FlipguardError(`The output "${path}" lies under ${kernel}, which holds kernel interfaces, not files; choose a path in an ordinary folder.`);
  const st = lstatOrUndefined(path);
  if (!st) {
    const parent = statOrUndefined(dirname(resolve(path)));
    if (parent && !parent.isDirectory()) throw new FlipguardError(`Cannot write "${path}": "${dirname(path)}" is a file, not a folder; check the path.`);
    return;
  }
  if (st.isSymbolicLink()) throw new FlipguardError(`The output "${path}" is a symbolic link; flipguard does not write through links, so give the real file's path or a new name.`);
  if (st.isDirectory()) throw new FlipguardError(`The output "${path}" is a folder; give a file name.`);
  if (!st.isFile()) throw new FlipguardError(`The output "${path}" is a special file (a device, FIFO or socket), not a regular file; give a new file name.`);
  if (isProtected(path, st, opts.protect)) throw new FlipguardError(`The output "${path}" is an input of this command; flipguard never writes over its input, even with ${opt('force')}, so give another output name.`);
  if (!opts.append && !opts.force) throw new FlipguardError(`The output "${path}" already exists; give a new name, or add ${opt('force')} to replace it.`);
}

function statOrUndefined(p: string): Stats | undefined {
  try { return statSync(p); } catch { return undefined; }
}

function mkdirs(dir: string): void {
  const kernel = underKernelFs(dir);
  if (kernel) throw new FlipguardError(`The output folder "${dir}" lies under ${kernel}, which holds kernel interfaces, not files; choose a path in an ordinary folder.`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new FlipguardError(ioErrorMessage(e, dir, 'create the folder'));
  }
}

/**
 * Writes `data` to `path` through a temporary file in the same folder, renamed over the target
 * (so the target is either the old or the new content, never half of each). Creates missing
 * folders. Refuses what checkOutputPath refuses.
 */
export function writeFileSafe(path: string, data: string | Uint8Array, opts: OutputOptions = {}): void {
  checkOutputPath(path, opts);
  mkdirs(dirname(resolve(path)));
  const tmp = join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, path);
  } catch (e) {
    if (fd >= 0) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    throw e instanceof FlipguardError ? e : new FlipguardError(ioErrorMessage(e, path));
  }
}

/** A relative manifest entry as a safe path inside the folder, or undefined (absolute, `..`, odd). */
function safeEntry(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry === '' || entry.includes('\0') || isAbsolute(entry)) return undefined;
  const n = normalize(entry);
  if (n === '.' || n.startsWith('..') || n === MANIFEST_NAME) return undefined;
  return n;
}

/**
 * An output folder flipguard writes into. Every file written or claimed is listed in the folder's
 * manifest before it is created, so a later `force` run can remove exactly those files.
 */
export class OutputDir {
  private readonly files: string[];
  private constructor(readonly dir: string, files: string[], private readonly protect: readonly string[]) {
    this.files = files;
  }

  /** See prepareOutputDir. */
  static prepare(dir: string, opts: OutputOptions = {}): OutputDir {
    const state = checkOutputDir(dir, opts);
    if (state === 'missing') {
      mkdirs(dir);
      return new OutputDir(dir, [], opts.protect ?? []);
    }
    const listed = readManifest(dir);
    if (state === 'empty') return new OutputDir(dir, listed.filter((f) => lstatOrUndefined(join(dir, f))), opts.protect ?? []);
    const kept: string[] = [];
    const realDir = realpathSync(dir);
    for (const rel of listed) {
      const p = join(dir, rel);
      const s = lstatOrUndefined(p);
      if (!s) continue;
      // never follow a link, never leave the folder, never touch an input
      if (!s.isFile() || relative(realDir, realish(p)).startsWith('..') || isProtected(p, s, opts.protect)) { kept.push(rel); continue; }
      try { unlinkSync(p); } catch (e) { throw new FlipguardError(ioErrorMessage(e, p, 'remove the earlier output')); }
    }
    // folders that held only flipguard's files go too (deepest first); a folder with anything else stays
    const subdirs = [...new Set(listed.flatMap((rel) => ancestors(rel)))].sort((a, b) => b.length - a.length);
    for (const d of subdirs) try { rmdirSync(join(dir, d)); } catch { /* not empty or gone: keep */ }
    const out = new OutputDir(dir, kept, opts.protect ?? []);
    out.saveManifest();
    return out;
  }

  /** Full path of `rel` in this folder. */
  path(rel: string): string {
    return join(this.dir, rel);
  }

  /**
   * Reserves `rel` for a file another writer creates (a model, a campaign record file): checks it
   * does not exist, lists it in the manifest, creates its folder, and returns its full path.
   */
  claim(rel: string): string {
    const n = safeEntry(rel);
    if (!n) throw new FlipguardError(`"${rel}" is not a plain relative file name inside the output folder "${this.dir}".`);
    const p = join(this.dir, n);
    const st = lstatOrUndefined(p);
    if (st && !this.files.includes(n)) {
      throw new FlipguardError(`"${p}" already exists and was not written by flipguard in this folder (${MANIFEST_NAME} does not list it), so it is kept even with ${opt('force')}; move it away or choose another output folder.`);
    }
    // a listed file still here is a link, special file or input (kept by prepare): refused with its reason
    checkOutputPath(p, { protect: this.protect, force: true });
    if (st) try { unlinkSync(p); } catch (e) { throw new FlipguardError(ioErrorMessage(e, p, 'replace')); }
    if (!this.files.includes(n)) { this.files.push(n); this.saveManifest(); }
    mkdirs(dirname(p));
    return p;
  }

  /** Writes `rel` (a file of this run) through a temporary file and lists it; returns its full path. */
  write(rel: string, data: string | Uint8Array): string {
    const p = this.claim(rel);
    writeFileSafe(p, data, { protect: this.protect });
    return p;
  }

  /** Files listed in the manifest (relative to the folder). */
  get written(): readonly string[] {
    return this.files;
  }

  private saveManifest(): void {
    const p = join(this.dir, MANIFEST_NAME);
    writeFileSafe(p, `${JSON.stringify({ flipguard: 'output-manifest', files: this.files }, null, 1)}\n`, { force: true });
  }
}

/**
 * Checks, without changing anything, that `dir` may become an output folder: not under /proc or
 * /sys, not a file, empty or `force` given, and a readable manifest if there is one. Returns
 * whether it is missing, empty (apart from a manifest) or holds files.
 */
export function checkOutputDir(dir: string, opts: OutputOptions = {}): 'missing' | 'empty' | 'full' {
  const what = opts.label ?? 'output folder';
  if (!dir) throw new FlipguardError(`The ${what} name is empty; give a folder name.`);
  const kernel = underKernelFs(dir);
  if (kernel) throw new FlipguardError(`The ${what} "${dir}" lies under ${kernel}, which holds kernel interfaces, not files; choose a path in an ordinary folder.`);
  const st = statOrUndefined(dir);
  if (!st) return 'missing';
  if (!st.isDirectory()) throw new FlipguardError(`The ${what} "${dir}" is a file; give a folder name.`);
  let entries: string[];
  try { entries = readdirSync(dir).filter((e) => e !== MANIFEST_NAME); } catch (e) { throw new FlipguardError(ioErrorMessage(e, dir, 'read the folder')); }
  readManifest(dir);
  if (entries.length === 0) return 'empty';
  if (!opts.force) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
    throw new FlipguardError(`The ${what} "${dir}" is not empty (${shown}); give a new folder, or add ${opt('force')} to replace the files flipguard wrote there (all other files are kept).`);
  }
  return 'full';
}

/** Parent folders of a relative path, shallowest first ("a/b/c.txt" → ["a", "a/b"]). */
function ancestors(rel: string): string[] {
  const parts = rel.split(sep).slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join(sep));
}

/** The files a folder's manifest lists (validated: plain relative paths only); [] without one. */
function readManifest(dir: string): string[] {
  const p = join(dir, MANIFEST_NAME);
  const st = lstatOrUndefined(p);
  if (!st) return [];
  const damaged = () => new FlipguardError(`The manifest "${p}" is damaged, so flipguard cannot tell its own files from yours there; choose a new output folder.`);
  if (!st.isFile() || st.size > MANIFEST_MAX_BYTES) throw damaged();
  let doc: unknown;
  try { doc = JSON.parse(readFileSync(p, 'utf8')); } catch { throw damaged(); }
  const files = (doc as { files?: unknown })?.files;
  if ((doc as { flipguard?: unknown })?.flipguard !== 'output-manifest' || !Array.isArray(files)) throw damaged();
  return [...new Set(files.map(safeEntry).filter((f): f is string => f !== undefined))];
}

/**
 * Makes `dir` ready for this run's files. A missing folder is created; an empty one is used; a
 * non-empty one is refused unless `force`, and then only the files its manifest lists (written by
 * an earlier flipguard run, and not protected) are removed — the user's other files stay.
 */
export function prepareOutputDir(dir: string, opts: OutputOptions = {}): OutputDir {
  return OutputDir.prepare(dir, opts);
}

/** `prepareOutputDir` for a folder given as a name, or the folder itself when already prepared. */
export function outputDirOf(dir: string | OutputDir, opts: OutputOptions = {}): OutputDir {
  return dir instanceof OutputDir ? dir : prepareOutputDir(dir, opts);
}
