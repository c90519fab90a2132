/**
 * One status line on a terminal (stderr), redrawn in place: never wider than
 * the terminal (a wrapped line could not be redrawn with \r), at most four
 * times a second, and erased when the work ends or before anything else is
 * printed, so it never mixes with messages. Off the terminal it prints nothing.
 */
import { formatBytes } from './format.js';

const REDRAW_MS = 250;

export class ProgressLine {
  private shown = false;
  private last = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, readonly enabled = stream.isTTY === true) {}

  /** Draws `text` (built only when it will be drawn) unless it was drawn less than 250 ms ago. */
  update(text: () => string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < REDRAW_MS) return;
    this.last = now;
    const width = Math.max((this.stream.columns || 80) - 1, 10);
    let line = text();
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    this.stream.write(`\r${line}\x1b[K`);
    this.shown = true;
  }

  /** Erases the line (the cursor goes back to where it began). */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

/** 62 → "62 s", 780 → "13 min", 7500 → "2 h 5 min": short, the line must fit. */
function seconds(s: number): string {
  if (s < 100) return `${Math.ceil(s)} s`;
  const m = Math.round(s / 60);
  return m < 100 ? `${m} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * What `flowlens analyze` shows while it reads: how far into the file (when
 * its size is known), packets, their rate, and the time left — in that order,
 * so that on a narrow terminal the cut takes the least useful part.
 *   capture.pcap: 10.1 MB of 22.8 MB (45%), 113,796 packets, 44,298/s, ETA 62 s
 */
export function analyzeProgress(p: { file: string; records: number; inputBytes: number; inputSize?: number | undefined; elapsedMs: number }): string {
  const s = Math.max(p.elapsedMs / 1000, 0.001);
  const read = p.inputSize ? `${formatBytes(p.inputBytes)} of ${formatBytes(p.inputSize)} (${Math.min(100, Math.floor((100 * p.inputBytes) / p.inputSize))}%)` : formatBytes(p.inputBytes);
  const parts = [`${p.file}: ${read}`, `${p.records.toLocaleString('en-US')} packets`, `${Math.round(p.records / s).toLocaleString('en-US')}/s`];
  if (p.inputSize && p.inputBytes > 0 && p.inputBytes <= p.inputSize) parts.push(`ETA ${seconds((p.inputSize - p.inputBytes) / (p.inputBytes / s))}`);
  return parts.join(', ');
}
