/**
 * Which rows of a long table to put in the DOM: only those in view plus a few
 * either side, with spacers above and below standing in for the rest, so a
 * table of 100k sessions costs as much to scroll as one of 50.
 */

export interface RowWindow {
  /** Index of the first row to render, and one past the last. */
  first: number;
  end: number;
  /** Heights (px) of the spacers above and below the rendered rows. */
  padTop: number;
  padBottom: number;
}

export function rowWindow(scrollTop: number, viewportHeight: number, rowHeight: number, total: number, overscan = 8): RowWindow {
  if (total <= 0 || rowHeight <= 0) return { first: 0, end: 0, padTop: 0, padBottom: 0 };
  const top = Math.max(0, scrollTop);
  const first = Math.min(total - 1, Math.max(0, Math.floor(top / rowHeight) - overscan));
  const visible = Math.ceil(Math.max(0, viewportHeight) / rowHeight) + 1;
  const end = Math.min(total, Math.floor(top / rowHeight) + visible + overscan);
  return { first, end: Math.max(end, first), padTop: first * rowHeight, padBottom: (total - Math.max(end, first)) * rowHeight };
}

