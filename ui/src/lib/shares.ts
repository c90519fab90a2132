/**
 * Top talkers as share bars: each row's part of the total, with the remainder
 * ("other") shown as its own row so the bars add up to the whole.
 */

export interface ShareInput {
  key: string;
  label?: string;
  bytesUp: number;
  bytesDown: number;
}

export interface ShareRow {
  key: string;
  label?: string;
  bytesUp: number;
  bytesDown: number;
  bytes: number;
  /** Share of the total, 0..1, and of the largest row (for the bar's length), 0..1. */
  share: number;
  barUp: number;
  barDown: number;
  other: boolean;
}

/**
 * Rows (largest first) cut to `limit`, plus an "other" row for the rest of
 * `total` (whatever the rows do not account for). Bars are scaled to the
 * largest row so the top talker fills its bar.
 */
export function shareRows(rows: ShareInput[], totalOrNone: { bytesUp: number; bytesDown: number } | undefined, limit = 10): ShareRow[] {
  // without a total, the rows are the whole
  const total = totalOrNone ?? { bytesUp: rows.reduce((a, r) => a + r.bytesUp, 0), bytesDown: rows.reduce((a, r) => a + r.bytesDown, 0) };
  const sorted = [...rows].sort((a, b) => b.bytesUp + b.bytesDown - (a.bytesUp + a.bytesDown)).slice(0, limit);
  const totalBytes = total.bytesUp + total.bytesDown;
  const shownUp = sorted.reduce((a, r) => a + r.bytesUp, 0);
  const shownDown = sorted.reduce((a, r) => a + r.bytesDown, 0);
  const other = { key: 'other', label: undefined, bytesUp: Math.max(0, total.bytesUp - shownUp), bytesDown: Math.max(0, total.bytesDown - shownDown) };
  const all = [...sorted.map((r) => ({ ...r, other: false })), ...(other.bytesUp + other.bytesDown > 0 ? [{ ...other, other: true }] : [])];
  const max = Math.max(1, ...all.map((r) => r.bytesUp + r.bytesDown));
  return all.map((r) => ({
    key: r.key,
    label: r.label,
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    bytes: r.bytesUp + r.bytesDown,
    share: totalBytes > 0 ? (r.bytesUp + r.bytesDown) / totalBytes : 0,
    barUp: r.bytesUp / max,
    barDown: r.bytesDown / max,
    other: r.other,
  }));
}
