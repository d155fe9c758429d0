// Pure geometry: grid shape, which samples a view shows, panel rectangles.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The timeseries package's multi_fig grid: nrows = floor(sqrt(k)), ncols = ceil(k / nrows). */
export function gridShape(k: number): { nrows: number; ncols: number } {
  const n = Math.max(1, Math.floor(k));
  const nrows = Math.max(1, Math.floor(Math.sqrt(n)));
  return { nrows, ncols: Math.ceil(n / nrows) };
}

/** Samples a view shows: `sample` alone, or up to viewCount from `sample` on: the next indices,
 * or the next `listed` ones (the sample menu's list when it filters or sorts; the current sample
 * first when it is not listed). The same rule as widget/samples.py `visible_samples`. */
export function viewSamples(view: string, sample: number, viewCount: number, nSamples: number, listed: readonly number[] | null = null): number[] {
  if (nSamples <= 0) return [];
  const s = Math.min(Math.max(0, Math.floor(sample)), nSamples - 1);
  if (view !== "grid" && view !== "overlay") return [s];
  const count = Math.max(1, Math.floor(viewCount) || 1);
  if (listed) {
    // the sample menu filters or sorts: the next listed samples (the current one first)
    const at = listed.indexOf(s);
    return at >= 0 ? listed.slice(at, at + count) : [s, ...listed.slice(0, count - 1)];
  }
  const k = Math.min(count, nSamples - s);
  return Array.from({ length: k }, (_, i) => s + i);
}

/** Split a rectangle into C stacked channel panels separated by gap px. */
export function stackRows(r: Rect, count: number, gap: number): Rect[] {
  const n = Math.max(1, count);
  const h = (r.h - gap * (n - 1)) / n;
  return Array.from({ length: n }, (_, i) => ({ x: r.x, y: r.y + i * (h + gap), w: r.w, h }));
}

/** Which stacked row of `count` equal rows a y offset falls in (-1 outside). */
export function rowAt(y: number, top: number, rowHeight: number, count: number): number {
  const i = Math.floor((y - top) / rowHeight);
  return i >= 0 && i < count ? i : -1;
}

/**
 * Width (css px) to draw the plot at: its laid-out width, or, while it has none (an ancestor is
 * display:none for a moment), the last laid-out width, then the widget element's, then 800.
 */
export function plotWidth(client: number, last: number, elWidth: number): number {
  if (client > 0) return Math.floor(client);
  if (last > 0) return Math.floor(last);
  return Math.floor(elWidth > 0 ? elWidth : 800);
}
