/**
 * A one-line progress bar on stderr: redrawn in place on a terminal, a line every few seconds
 * otherwise (CI logs), silent with --quiet.
 */
import { visible } from '../util/text.js';

export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
}

export class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly stream: NodeJS.WriteStream;
  private drawn = false;

  constructor(readonly label: string, readonly total: number, private readonly opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Updates to `done` of `total`, with an optional extra text (e.g. "loss 0.12"). */
  update(done: number, extra = ''): void {
    if (this.opts.quiet) return;
    const now = performance.now();
    const interval = this.tty ? 100 : 5000;
    if (done < this.total && now - this.lastDraw < interval) return;
    this.lastDraw = now;
    const secs = (now - this.start) / 1000;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const rate = secs > 0 ? done / secs : 0;
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    // label and extra may quote names from files
    const line = `${visible(this.label)} ${bar} ${String(Math.round(frac * 100)).padStart(3)}% ${done}/${this.total} ${formatDuration(secs)} elapsed, ETA ${formatDuration(eta)}${extra ? `  ${visible(extra)}` : ''}`;
    if (this.tty) { this.stream.write(`\r\x1b[2K${line}`); this.drawn = true; }
    else this.stream.write(`${line}\n`);
  }

  done(): void {
    if (this.opts.quiet) return;
    if (this.tty && this.drawn) this.stream.write('\r\x1b[2K');
  }
}

export function formatDuration(secs: number): string {
  if (!Number.isFinite(secs)) return '?';
  if (secs < 60) return `${secs.toFixed(secs < 10 ? 1 : 0)}s`;
  const m = Math.floor(secs / 60);
  if (m < 60) return `${m}m${String(Math.round(secs % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
