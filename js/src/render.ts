// Canvas drawing of a Scene: CAM-coloured series, axes, titles, colour bar, notes.
import { formatTick, formatValue, niceTicks } from "./axes";
import { colourIndex, ColourTable, TABLE_SIZE } from "./colour";
import { decimateCached } from "./decimate";
import { memo } from "./memo";
import { gridShape, stackRows, type Rect } from "./layout";
import { isNanMap, type Scene, type SceneSample } from "./scene";
import { drawMaskBand } from "./band";
import type { Theme } from "./theme";

export interface DrawStyle {
  mark: string; // "line" | "scatter"
  linewidth: number;
  linestyle: string; // solid | dashed | dashdot | dotted
  alpha: number;
}

/** One drawn panel (a channel of one or several samples), for hover lookups. */
export interface PanelHit {
  rect: Rect;
  samples: SceneSample[];
  channel: number;
  T: number;
}

/** Margins of the single/overlay figure; the layer strip aligns its time axis to them. */
export const MARGIN = { left: 84, right: 82, top: 34, bottom: 42 };
const GAP = 8;
const LEGEND_ROW = 16;
const CELL = { left: 50, right: 10, title: 22, bottom: 30, gap: 14 };
/** The channel bar column beside the panels (maps per channel): its width, and in a grid cell. */
const BARS = { w: 64, gap: 12, cell: 22 };
/** Extra right margin of the single/overlay figure for the channel bars (the layer strip keeps
 * its time axis aligned with the panels'). */
export function barsMargin(scene: Scene): number {
  return scene.perChannel && scene.C > 1 && scene.view !== "grid" ? BARS.w + BARS.gap : 0;
}
/** The channel bar's colour (readable on light and dark backgrounds). */
const BAR_COLOUR = "#4c78a8";

interface Cell {
  samples: SceneSample[];
  panels: Rect[];
  title: string | null; // per-cell title (grid)
  /** the channel bars' column (x, width) beside the panels; null: no bars */
  bars: { x: number; w: number } | null;
}

interface SceneLayout {
  height: number;
  /** overlay: top of the legend, below the time axis */
  legendY: number;
  cells: Cell[];
  colourBar: Rect;
}

function panelHeight(C: number, big: boolean): number {
  if (big) return C === 1 ? 260 : Math.max(80, Math.round(360 / C));
  return C === 1 ? 120 : Math.max(48, Math.round(150 / C));
}

/** Geometry of the whole figure for a canvas `width` css px wide. */
export function sceneLayout(scene: Scene, width: number): SceneLayout {
  const C = Math.max(1, scene.C);
  const right = width - MARGIN.right;
  const bars = scene.perChannel && C > 1;
  if (scene.view === "grid") {
    const { nrows, ncols } = gridShape(scene.samples.length);
    const ph = panelHeight(C, false);
    const cellH = CELL.title + C * ph + (C - 1) * GAP + CELL.bottom;
    const cellW = (right - 8 - (ncols - 1) * CELL.gap) / ncols;
    const cells = scene.samples.map((s, i) => {
      const r = Math.floor(i / ncols);
      const c = i % ncols;
      const x0 = 8 + c * (cellW + CELL.gap);
      const y0 = MARGIN.top + r * (cellH + CELL.gap);
      const barW = bars ? BARS.cell : 0;
      const area = { x: x0 + CELL.left, y: y0 + CELL.title, w: Math.max(10, cellW - CELL.left - CELL.right - barW), h: C * ph + (C - 1) * GAP };
      const bar = bars ? { x: area.x + area.w + 4, w: barW - 4 } : null;
      return { samples: [s], panels: stackRows(area, C, GAP), title: `#${s.id} ${s.title}`, bars: bar };
    });
    const height = MARGIN.top + nrows * cellH + (nrows - 1) * CELL.gap + 8;
    return { height, legendY: height, cells, colourBar: { x: right + 16, y: MARGIN.top + CELL.title, w: 14, h: Math.min(240, height - MARGIN.top - CELL.title - 30) } };
  }
  const h = C * panelHeight(C, true) + (C - 1) * GAP;
  const barW = bars ? BARS.w + BARS.gap : 0;
  const area = { x: MARGIN.left, y: MARGIN.top, w: Math.max(10, right - MARGIN.left - barW), h };
  const legend = scene.view === "overlay" ? LEGEND_ROW * scene.samples.length + 6 : 0;
  return {
    height: MARGIN.top + h + MARGIN.bottom + legend,
    legendY: MARGIN.top + h + MARGIN.bottom,
    cells: [{ samples: scene.samples, panels: stackRows(area, C, GAP), title: null, bars: bars ? { x: area.x + area.w + BARS.gap, w: BARS.w } : null }],
    colourBar: { x: right + 16, y: MARGIN.top, w: 14, h },
  };
}

/** matplotlib's dash patterns, in units of the line width. */
export function dashPattern(linestyle: string, lw: number): number[] {
  const w = Math.max(1, lw);
  switch (linestyle) {
    case "dashed":
      return [3.7 * w, 1.6 * w];
    case "dashdot":
      return [6.4 * w, 1.6 * w, 1 * w, 1.6 * w];
    case "dotted":
      return [1 * w, 1.65 * w];
    default:
      return [];
  }
}

/** Overlay: the first sample keeps its line style, later ones are dashed (then dotted, dashdot). */
export function overlayLinestyle(i: number, base: string): string {
  return i === 0 ? base : ["dashed", "dotted", "dashdot"][(i - 1) % 3];
}

/** Finite [min, max] of an array (cached per array: series never change). */
function rawExtent(a: Float32Array): [number, number] {
  return memo(a, "extent", () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < a.length; i++) { const v = a[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
    return [lo, hi] as [number, number];
  });
}

function extent(arrays: Float32Array[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) { const [l, h] = rawExtent(a); if (l < lo) lo = l; if (h > hi) hi = h; }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  return [lo - pad, hi + pad];
}

/** Casing under the coloured line: px wider than the line, opacity of the text colour. */
export const CASING = 1.5;
export const CASING_ALPHA = 0.5;

let colours = new Int16Array(0);
/** A reused buffer for the colour indices of the points being drawn. */
function colourScratch(n: number): Int16Array {
  if (colours.length < n) colours = new Int16Array(Math.max(n, 2 * colours.length));
  return colours;
}

interface Ctx {
  ctx: CanvasRenderingContext2D;
  theme: Theme;
  table: ColourTable;
  lo: number;
  hi: number;
}

/** Draw one series with per-segment colours (runs of one colour share a stroke). */
function drawSeries(d: Ctx, r: Rect, T: number, y: [number, number], values: Float32Array, map: Float32Array | null, st: DrawStyle, linestyle: string): void {
  const { ctx, table, lo, hi, theme } = d;
  const dec = decimateCached(values, map, Math.max(2, Math.round(r.w)));
  const n = dec.x.length;
  const sx = (t: number) => r.x + (T > 1 ? (t / (T - 1)) * r.w : r.w / 2);
  const sy = (v: number) => r.y + r.h - ((v - y[0]) / (y[1] - y[0])) * r.h;
  const ci = colourScratch(n);
  for (let q = 0; q < n; q++) ci[q] = colourIndex(dec.cam[q], lo, hi);
  const colourOf = (i: number) => ci[i];
  ctx.save();
  ctx.beginPath();
  ctx.rect(r.x, r.y, r.w, r.h);
  ctx.clip();
  ctx.globalAlpha = Math.min(1, Math.max(0, Number.isFinite(st.alpha) ? st.alpha : 1));
  const lw = Math.max(0.5, st.linewidth || 2);
  // a thin casing in the text colour under the coloured line keeps pale colours (the middle of
  // Spectral_r on white, dark ends of a map on a dark theme) visible on any background
  const casing = new Path2D();
  const caseAlpha = ctx.globalAlpha * CASING_ALPHA;
  if (st.mark === "scatter") {
    const rad = Math.max(1.5, lw / 2);
    const paths = new Map<number, Path2D>();
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(dec.y[i])) continue;
      const k = colourOf(i);
      let p = paths.get(k);
      if (!p) paths.set(k, (p = new Path2D()));
      const px = sx(dec.x[i]);
      const py = sy(dec.y[i]);
      p.moveTo(px + rad, py);
      p.arc(px, py, rad, 0, 2 * Math.PI);
      casing.moveTo(px + rad + CASING / 2, py);
      casing.arc(px, py, rad + CASING / 2, 0, 2 * Math.PI);
    }
    ctx.save();
    ctx.globalAlpha = caseAlpha;
    ctx.fillStyle = theme.fg;
    ctx.fill(casing);
    ctx.restore();
    for (const [k, p] of paths) {
      ctx.fillStyle = k < 0 ? theme.neutral : table.css[k];
      ctx.fill(p);
    }
    ctx.restore();
    return;
  }
  const dash = dashPattern(linestyle, lw);
  ctx.lineWidth = lw;
  ctx.lineJoin = "round";
  ctx.lineCap = dash.length === 0 && ctx.globalAlpha >= 1 ? "round" : "butt";
  let open = false;
  for (let q = 0; q < n; q++) {
    if (Number.isNaN(dec.y[q])) { open = false; continue; }
    if (open) casing.lineTo(sx(dec.x[q]), sy(dec.y[q]));
    else casing.moveTo(sx(dec.x[q]), sy(dec.y[q]));
    open = true;
  }
  ctx.save();
  ctx.globalAlpha = caseAlpha;
  ctx.strokeStyle = theme.fg;
  ctx.lineWidth = lw + CASING;
  ctx.setLineDash(dash);
  ctx.stroke(casing);
  ctx.restore();
  // Segment i -> i+1 takes the larger CAM of its ends, so a peak colours both sides.
  const segColour = (i: number) => Math.max(colourOf(i), colourOf(i + 1));
  const byColour = dash.length === 0 ? new Map<number, Path2D>() : null;
  let travelled = 0;
  let i = 0;
  while (i < n - 1) {
    if (Number.isNaN(dec.y[i]) || Number.isNaN(dec.y[i + 1])) { i++; continue; }
    const k = segColour(i);
    let j = i + 1;
    while (j < n - 1 && !Number.isNaN(dec.y[j + 1]) && segColour(j) === k) j++;
    // points i..j form one run of colour k
    const path = byColour ? (byColour.get(k) ?? byColour.set(k, new Path2D()).get(k)!) : new Path2D();
    let px = sx(dec.x[i]);
    let py = sy(dec.y[i]);
    path.moveTo(px, py);
    let len = 0;
    for (let q = i + 1; q <= j; q++) {
      const nx = sx(dec.x[q]);
      const ny = sy(dec.y[q]);
      path.lineTo(nx, ny);
      len += Math.hypot(nx - px, ny - py);
      px = nx;
      py = ny;
    }
    if (!byColour) {
      // dashed: continue the dash pattern across runs
      ctx.setLineDash(dash);
      ctx.lineDashOffset = travelled;
      ctx.strokeStyle = k < 0 ? theme.neutral : table.css[k];
      ctx.stroke(path);
    }
    travelled += len;
    i = j;
  }
  if (byColour) {
    for (const [k, p] of byColour) {
      ctx.strokeStyle = k < 0 ? theme.neutral : table.css[k];
      ctx.stroke(p);
    }
  }
  ctx.restore();
}

function drawAxes(ctx: CanvasRenderingContext2D, theme: Theme, r: Rect, T: number, y: [number, number], xLabels: boolean, yLabel: string, small: boolean): void {
  const font = `${small ? 10 : 11}px ${theme.font}`;
  const yt = niceTicks(y[0], y[1], Math.max(2, Math.floor(r.h / 28)));
  const xt = niceTicks(0, Math.max(0, T - 1), Math.max(2, Math.floor(r.w / 70)));
  const sx = (t: number) => r.x + (T > 1 ? (t / (T - 1)) * r.w : r.w / 2);
  const sy = (v: number) => r.y + r.h - ((v - y[0]) / (y[1] - y[0])) * r.h;
  ctx.save();
  ctx.lineWidth = 1;
  ctx.strokeStyle = theme.grid;
  ctx.beginPath();
  for (const v of yt) { const py = Math.round(sy(v)) + 0.5; ctx.moveTo(r.x, py); ctx.lineTo(r.x + r.w, py); }
  for (const t of xt) { const px = Math.round(sx(t)) + 0.5; ctx.moveTo(px, r.y); ctx.lineTo(px, r.y + r.h); }
  ctx.stroke();
  ctx.strokeStyle = theme.fgMuted;
  ctx.strokeRect(Math.round(r.x) + 0.5, Math.round(r.y) + 0.5, Math.round(r.w), Math.round(r.h));
  ctx.fillStyle = theme.fgMuted;
  ctx.font = font;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of yt) ctx.fillText(formatTick(v, yt), r.x - 5, sy(v));
  if (xLabels) {
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of xt) ctx.fillText(formatTick(t, xt), sx(t), r.y + r.h + 4);
  }
  ctx.fillStyle = theme.fg;
  if (xLabels && !small) {
    ctx.textBaseline = "top";
    ctx.fillText("time", r.x + r.w / 2, r.y + r.h + 20);
  }
  if (!small || yLabel !== "value") {
    ctx.save();
    ctx.translate(r.x - (small ? 38 : 58), r.y + r.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();
  }
  ctx.restore();
}

const bars = new WeakMap<ColourTable, HTMLCanvasElement>();
/** The colour table as a 1 x 256 image, entry 0 at the bottom (made once per table). */
function barImage(table: ColourTable): HTMLCanvasElement {
  let c = bars.get(table);
  if (!c) {
    c = document.createElement("canvas");
    c.width = 1;
    c.height = TABLE_SIZE;
    const img = new ImageData(1, TABLE_SIZE);
    for (let i = 0; i < TABLE_SIZE; i++) img.data.set(table.rgba.subarray(i * 4, i * 4 + 4), (TABLE_SIZE - 1 - i) * 4);
    c.getContext("2d")?.putImageData(img, 0, 0);
    bars.set(table, c);
  }
  return c;
}

function drawColourBar(ctx: CanvasRenderingContext2D, theme: Theme, table: ColourTable, r: Rect, lo: number, hi: number): void {
  if (r.h < 10) return;
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(barImage(table), r.x, r.y, r.w, r.h);
  ctx.strokeStyle = theme.fgMuted;
  ctx.lineWidth = 1;
  ctx.strokeRect(Math.round(r.x) + 0.5, Math.round(r.y) + 0.5, Math.round(r.w), Math.round(r.h));
  ctx.fillStyle = theme.fgMuted;
  ctx.font = `11px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const ticks: [number, number][] = [[lo, r.y + r.h], [(lo + hi) / 2, r.y + r.h / 2], [hi, r.y]];
  ctx.beginPath();
  for (const [v, py] of ticks) {
    ctx.moveTo(r.x + r.w, Math.round(py) + 0.5);
    ctx.lineTo(r.x + r.w + 4, Math.round(py) + 0.5);
    ctx.fillText(formatValue(v), r.x + r.w + 6, py);
  }
  ctx.stroke();
  ctx.fillStyle = theme.fg;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillText("CAM", r.x + r.w / 2, r.y - 6);
  ctx.restore();
}

function fitText(ctx: CanvasRenderingContext2D, text: string, maxW: number): string {
  if (ctx.measureText(text).width <= maxW) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxW) s = s.slice(0, -1);
  return s + "…";
}

export interface DrawOptions {
  width: number;
  height: number;
  theme: Theme;
  table: ColourTable;
  style: DrawStyle;
  /** notes drawn over the plot ("computing...", NaN map) */
  notes: string[];
  /** the ground-truth mask row [T] of a sample (band under its series), null: none */
  mask?: (n: number) => ArrayLike<number> | null;
}

/** Draw the scene (canvas transform already scaled for the device pixel ratio). */
export function drawScene(ctx: CanvasRenderingContext2D, scene: Scene, o: DrawOptions): PanelHit[] {
  const { theme, table } = o;
  const [lo, hi] = scene.valueRange;
  const layout = sceneLayout(scene, o.width);
  ctx.save();
  ctx.fillStyle = theme.bg;
  ctx.fillRect(0, 0, o.width, o.height);
  const d: Ctx = { ctx, theme, table, lo, hi };
  const hits: PanelHit[] = [];
  const small = scene.view === "grid";
  for (const cell of layout.cells) {
    cell.panels.forEach((r, c) => {
      const y = extent(cell.samples.map((s) => s.channels[c]));
      const yLabel = scene.C > 1 ? `ch ${c}` : "value";
      drawAxes(ctx, theme, r, scene.T, y, c === cell.panels.length - 1, yLabel, small);
      if (o.mask) for (const s of cell.samples) drawMaskBand(ctx, r, scene.T, o.mask(s.n), theme, 0.14 / Math.sqrt(cell.samples.length));
      cell.samples.forEach((s, i) => {
        const ls = scene.view === "overlay" ? overlayLinestyle(i, o.style.linestyle) : o.style.linestyle;
        const map = s.channelMaps?.[c] ?? s.map;
        drawSeries(d, r, scene.T, y, s.channels[c], map && !isNanMap(map) ? map : null, o.style, ls);
      });
      hits.push({ rect: r, samples: cell.samples, channel: c, T: scene.T });
    });
    if (cell.bars) drawChannelBars(ctx, theme, cell.panels, cell.bars, cell.samples[0]?.share ?? null, small ? null : scene.meanShare, small);
    if (cell.title) {
      ctx.fillStyle = theme.fg;
      ctx.font = `11px ${theme.font}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "bottom";
      const r = cell.panels[0];
      ctx.fillText(fitText(ctx, cell.title, r.w + CELL.left), r.x + r.w / 2, r.y - 5);
    }
  }
  // figure title
  ctx.fillStyle = theme.fg;
  ctx.font = `bold 13px ${theme.font}`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const main = scene.view === "single" && scene.samples[0] ? `${scene.samples[0].title} - ${scene.title}` : scene.title;
  ctx.fillText(fitText(ctx, main, o.width - 16), (o.width - MARGIN.right + MARGIN.left) / 2, 15);
  if (scene.view === "overlay") drawLegend(ctx, theme, scene, o, MARGIN.left, layout.legendY, o.width - MARGIN.left - MARGIN.right);
  drawColourBar(ctx, theme, table, layout.colourBar, lo, hi);
  drawNotes(ctx, theme, o.notes, layout.cells[0]?.panels[0]);
  ctx.restore();
  return hits;
}

/**
 * The channel bar: beside each channel's panel, the sample's share of |attribution| in that
 * channel (filled bar, its percentage below) and the mean share over the listed samples (a
 * line); bars scaled so the largest share fills the column. `small` (grid cells): bars only.
 */
export function drawChannelBars(
  ctx: CanvasRenderingContext2D, theme: Theme, panels: Rect[], col: { x: number; w: number },
  share: Float32Array | null, mean: { share: Float32Array; count: number } | null, small: boolean,
): void {
  if (!share && !mean) return;
  let most = 0;
  panels.forEach((_, c) => { most = Math.max(most, share?.[c] ?? 0, mean?.share[c] ?? 0); });
  if (!(most > 0)) return;
  ctx.save();
  ctx.font = `10px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  const pct = (v: number) => `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`;
  panels.forEach((r, c) => {
    const bh = Math.max(4, Math.min(small ? 10 : 16, r.h * 0.3));
    const y = r.y + r.h / 2 - bh / 2;
    ctx.fillStyle = theme.grid;
    ctx.fillRect(col.x, y, col.w, bh);
    if (share) {
      ctx.fillStyle = BAR_COLOUR;
      ctx.fillRect(col.x, y, (share[c] / most) * col.w, bh);
    }
    if (mean) {
      const x = Math.round(col.x + (mean.share[c] / most) * col.w) + 0.5;
      ctx.strokeStyle = theme.fg;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(x, y - 3);
      ctx.lineTo(x, y + bh + 3);
      ctx.stroke();
    }
    if (!small) {
      ctx.fillStyle = theme.fgMuted;
      const text = share ? pct(share[c]) + (mean ? ` · ${pct(mean.share[c])}` : "") : pct(mean ? mean.share[c] : 0);
      ctx.fillText(text, col.x, y + bh + 4);
    }
  });
  if (!small) {
    const top = panels[0];
    ctx.fillStyle = theme.fg;
    ctx.font = `bold 11px ${theme.font}`;
    ctx.textBaseline = "bottom";
    ctx.fillText("channel", col.x, top.y - 14);
    ctx.fillText("share", col.x, top.y - 2);
    const last = panels[panels.length - 1];
    ctx.font = `10px ${theme.font}`;
    ctx.fillStyle = theme.fgMuted;
    ctx.textBaseline = "top";
    if (share) ctx.fillText("bar: sample", col.x, last.y + last.h + 4);
    if (mean) ctx.fillText(`line: mean of ${mean.count}`, col.x, last.y + last.h + 17);
  }
  ctx.restore();
}

/** Overlay legend below the time axis: a line sample in each series' style, then its title. */
function drawLegend(ctx: CanvasRenderingContext2D, theme: Theme, scene: Scene, o: DrawOptions, x: number, y: number, w: number): void {
  ctx.save();
  ctx.font = `11px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  scene.samples.forEach((s, i) => {
    const cy = y + LEGEND_ROW / 2 + i * LEGEND_ROW;
    ctx.strokeStyle = theme.fg;
    ctx.lineWidth = 1.5;
    ctx.setLineDash(dashPattern(overlayLinestyle(i, o.style.linestyle), 1.5));
    ctx.beginPath();
    ctx.moveTo(x, cy);
    ctx.lineTo(x + 34, cy);
    ctx.stroke();
    ctx.fillStyle = theme.fg;
    ctx.fillText(fitText(ctx, `#${s.id} ${s.title}`, w - 42), x + 42, cy);
  });
  ctx.restore();
}

function drawNotes(ctx: CanvasRenderingContext2D, theme: Theme, notes: string[], r: Rect | undefined): void {
  if (!r || notes.length === 0) return;
  ctx.save();
  ctx.font = `italic 12px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  notes.forEach((n, i) => {
    const text = fitText(ctx, n, r.w - 16);
    const w = ctx.measureText(text).width;
    ctx.globalAlpha = 0.85;
    ctx.fillStyle = theme.bg;
    ctx.fillRect(r.x + 6, r.y + 6 + i * 18, w + 8, 17);
    ctx.globalAlpha = 1;
    ctx.fillStyle = theme.fg;
    ctx.fillText(text, r.x + 10, r.y + 8 + i * 18);
  });
  ctx.restore();
}
