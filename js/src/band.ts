// The ground-truth mask (CamWidget(..., mask=...)) as a band under the series: the time steps
// where the evidence is are shaded across the panel, behind the series, with a solid bar along
// the panel's bottom edge.
import { decodeCached } from "./buffers";
import type { Rect } from "./layout";
import type { Theme } from "./theme";
import type { TraitReader } from "./types";

/** The mask row [T] of sample n (uint8, 1 inside), or null when the widget has no mask. */
export function maskRow(m: TraitReader, n: number): Uint8Array | null {
  const d = decodeCached((m as unknown as { get(k: string): never }).get("mask"));
  if (!d || d.shape.length !== 2 || n < 0 || n >= d.shape[0]) return null;
  const T = d.shape[1];
  return (d.data as Uint8Array).subarray(n * T, (n + 1) * T);
}

/** Runs [start, end) of ones in a 0/1 row. */
export function maskRuns(row: ArrayLike<number>): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  for (let t = 0; t <= row.length; t++) {
    const on = t < row.length && row[t] > 0;
    if (on && start < 0) start = t;
    if (!on && start >= 0) {
      out.push([start, t]);
      start = -1;
    }
  }
  return out;
}

export const BAND_COLOUR = "rgba(46, 160, 67, ALPHA)";
export const BAND_H = 5;

/** Shade the mask's time steps in panel r (T time steps; step t spans t - 0.5 .. t + 0.5). */
export function drawMaskBand(ctx: CanvasRenderingContext2D, r: Rect, T: number, row: ArrayLike<number> | null, theme: Theme, alpha = 0.14): void {
  if (!row || T < 1) return;
  const runs = maskRuns(row);
  if (runs.length === 0) return;
  const px = (t: number) => r.x + (T > 1 ? ((t - 0.5) / (T - 1)) * r.w : 0);
  ctx.save();
  ctx.beginPath();
  ctx.rect(r.x, r.y, r.w, r.h);
  ctx.clip();
  for (const [a, b] of runs) {
    const x0 = Math.max(r.x, px(a));
    const x1 = Math.min(r.x + r.w, px(b));
    ctx.fillStyle = BAND_COLOUR.replace("ALPHA", String(alpha));
    ctx.fillRect(x0, r.y, x1 - x0, r.h);
    ctx.fillStyle = BAND_COLOUR.replace("ALPHA", "0.85");
    ctx.fillRect(x0, r.y + r.h - BAND_H, x1 - x0, BAND_H);
  }
  ctx.restore();
  void theme;
}
