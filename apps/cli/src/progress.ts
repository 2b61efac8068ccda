const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const clock = (s: number) => {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
};

/**
 * A progress bar on stderr with count, rate and ETA. On a terminal it redraws
 * one line; otherwise it prints a line every tenth of the way (or every 10 s
 * when the total is unknown), so logs stay readable.
 */
export class Progress {
  private readonly started = performance.now();
  private done = 0;
  private lastDraw = 0;
  private lastTenth = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly enabled = true,
  ) {}

  tick(n = 1): void {
    this.done += n;
    if (!this.enabled) return;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw < 100) return;
      this.lastDraw = now;
      process.stderr.write(`\r${this.line()}\u001b[K`);
      return;
    }
    const tenth = this.total
      ? Math.floor((this.done / this.total) * 10)
      : Math.floor((now - this.started) / 10_000);
    if (tenth !== this.lastTenth) {
      this.lastTenth = tenth;
      process.stderr.write(`${this.line()}\n`);
    }
  }

  private line(): string {
    const secs = (performance.now() - this.started) / 1000;
    const rate = this.done / Math.max(secs, 0.001);
    if (!this.total) return `${this.label} ${fmt(this.done)} ${fmt(rate)}/s ${clock(secs)}`;
    const share = Math.min(1, this.done / this.total);
    const width = 24;
    const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '.');
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    return `${this.label} [${bar}] ${(share * 100).toFixed(0).padStart(3)}% ${fmt(this.done)}/${fmt(this.total)} ${fmt(rate)}/s ETA ${clock(eta)}`;
  }

  finish(): { count: number; seconds: number; rate: number } {
    const seconds = (performance.now() - this.started) / 1000;
    if (this.enabled)
      process.stderr.write(`${this.tty ? '\r' : ''}${this.line()}${this.tty ? '\u001b[K' : ''}\n`);
    return { count: this.done, seconds, rate: this.done / Math.max(seconds, 0.001) };
  }
}
