// The layer strip: a heatmap of the current sample's maps, one row per layer, over time.
import { colourIndex, ColourTable } from "./colour";
import { bucketMaxCached } from "./decimate";
import { rowAt } from "./layout";
import { memo } from "./memo";
import type { Theme } from "./theme";

export interface StripGeometry {
  left: number;
  top: number;
  width: number;
  rowH: number;
  rows: number;
  height: number;
}

export function stripGeometry(rows: number, width: number, left: number, right: number): StripGeometry {
  const rowH = Math.max(6, Math.min(14, Math.floor(180 / Math.max(1, rows))));
  const top = 18;
  return { left, top, width: Math.max(10, width - left - right), rowH, rows, height: top + rows * rowH + 4 };
}

/** Bucket maximum of a map over `cols` columns (NaN only when a bucket is all NaN). */
export function columnMax(map: ArrayLike<number>, cols: number): Float32Array {
  const T = map.length;
  const out = new Float32Array(cols).fill(NaN);
  for (let c = 0; c < cols; c++) {
    const i0 = Math.floor((c * T) / cols);
    const i1 = Math.max(i0 + 1, Math.floor(((c + 1) * T) / cols));
    let m = NaN;
    for (let i = i0; i < i1 && i < T; i++) { const v = map[i]; if (!Number.isNaN(v) && !(v <= m)) m = v; }
    out[c] = m;
  }
  return out;
}

/**
 * Row labels that tell layers apart within the space `fits` allows: the dotted prefix all names
 * share is dropped, then leading parts are shortened to their first letter and trailing digits
 * ("block12" -> "b12"; the last part kept whole), then the start is cut ("…" + the end). Labels that would still be equal get
 * their row number in front, so no two rows read the same.
 */
/** "backbone" -> "b", "block12" -> "b12", "3" -> "3": first letter and trailing digits. */
export function abbreviate(part: string): string {
  const m = /^(\D)\D*?(\d*)$/.exec(part);
  return m ? m[1] + m[2] : part;
}

export function stripLabels(names: string[], fits: (label: string) => boolean): string[] {
  const parts = names.map((n) => n.split("."));
  let common = 0;
  while (parts.length > 1 && parts.every((p) => p.length > common + 1 && p[common] === parts[0][common])) common++;
  const labels = parts.map((p0) => {
    const p = p0.slice(common);
    const full = p.join(".");
    if (fits(full)) return full;
    for (let j = 1; j < p.length; j++) {
      const short = p.map((x, q) => (q < j ? abbreviate(x) : x)).join(".");
      if (fits(short)) return short;
    }
    let end = full;
    while (end.length > 1 && !fits(`…${end}`)) end = end.slice(1);
    return `…${end}`;
  });
  const count = new Map<string, number>();
  for (const l of labels) count.set(l, (count.get(l) ?? 0) + 1);
  return labels.map((l, i) => {
    if ((count.get(l) ?? 0) < 2) return l;
    let s = `${i}:${l}`;
    while (s.length > 3 && !fits(s)) s = `${i}:…${s.slice(String(i).length + 3)}`;
    return s;
  });
}

/** Which layer row a y offset (css px in the strip canvas) hits; -1 outside. */
export function stripLayerAt(g: StripGeometry, x: number, y: number): number {
  if (x < 0) return -1;
  return rowAt(y, g.top, g.rowH, g.rows);
}

let scratch: HTMLCanvasElement | null = null;
// what `scratch` holds now: the maps' buffer and a key of their windows, size, range and table
let scratchBuf: ArrayBufferLike | null = null;
let scratchKey = "";
const tableIds = new WeakMap<ColourTable, number>();
let nextTableId = 1;
function tableId(t: ColourTable): number {
  let id = tableIds.get(t);
  if (id == null) tableIds.set(t, (id = nextTableId++));
  return id;
}

/** The strip's heatmap: one row per layer, `cols` columns of bucket maxima. */
function stripImage(maps: (Float32Array | null)[], rows: number, cols: number, range: [number, number], table: ColourTable, rowRanges: [number, number][] | null): ImageData {
  const img = new ImageData(cols, rows);
  const d = img.data;
  for (let l = 0; l < rows; l++) {
    const m = maps[l];
    // cols <= T: the same buckets as the main plot's colours, cached with them
    const col = m ? (cols <= m.length ? bucketMaxCached(m, cols) : memo(m, `colmax:${cols}`, () => columnMax(m, cols))) : null;
    const [lo, hi] = rowRanges?.[l] ?? range;
    for (let c = 0; c < cols; c++) {
      const k = col ? colourIndex(col[c], lo, hi) : -1;
      const o = (l * cols + c) * 4;
      if (k < 0) { d[o] = 128; d[o + 1] = 128; d[o + 2] = 128; d[o + 3] = 60; }
      else { const t = k * 4; d[o] = table.rgba[t]; d[o + 1] = table.rgba[t + 1]; d[o + 2] = table.rgba[t + 2]; d[o + 3] = table.rgba[t + 3]; }
    }
  }
  return img;
}

export function drawStrip(
  ctx: CanvasRenderingContext2D,
  g: StripGeometry,
  maps: (Float32Array | null)[],
  layerNames: string[],
  layer: number,
  range: [number, number],
  table: ColourTable,
  theme: Theme,
  dpr: number,
  caption: string,
  rowRanges: [number, number][] | null = null, // each row's own range (norm "none")
): void {
  ctx.fillStyle = theme.bg;
  ctx.fillRect(0, 0, g.left + g.width + 200, g.height);
  const T = maps.find((m) => m)?.length ?? 0;
  const cols = Math.max(1, Math.min(T || 1, Math.round(g.width * dpr)));
  scratch ??= document.createElement("canvas");
  const rows = Math.max(1, g.rows);
  // the heatmap only changes with the sample/method/reduction (the maps), the width, the range
  // and the colour table; a layer change reuses it and redraws labels and highlight only
  const key = `${cols}|${rows}|${rowRanges ? rowRanges.join(";") : `${range[0]}|${range[1]}`}|${tableId(table)}`;
  const buf = maps.find((m) => m)?.buffer ?? null;
  const full = `${key}|${maps.map((m) => (m ? `${m.byteOffset}:${m.length}` : "-")).join(",")}`;
  if (buf !== scratchBuf || full !== scratchKey) {
    scratch.width = cols;
    scratch.height = rows;
    const sctx = scratch.getContext("2d");
    if (!sctx) return;
    sctx.putImageData(stripImage(maps, rows, cols, range, table, rowRanges), 0, 0);
    scratchBuf = buf;
    scratchKey = full;
  }
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, g.left, g.top, g.width, g.rows * g.rowH);
  ctx.font = `${Math.min(11, g.rowH)}px ${theme.font}`;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  // measured in bold (the widest case), so a label fits whether or not its row is current
  ctx.font = `bold ${Math.min(11, g.rowH)}px ${theme.font}`;
  const names = Array.from({ length: g.rows }, (_, l) => layerNames[l] ?? String(l));
  const labels = stripLabels(names, (s) => ctx.measureText(s).width <= g.left - 8);
  for (let l = 0; l < g.rows; l++) {
    ctx.fillStyle = l === layer ? theme.fg : theme.fgMuted;
    ctx.font = `${l === layer ? "bold " : ""}${Math.min(11, g.rowH)}px ${theme.font}`;
    if (g.rowH >= 8 || l === layer) ctx.fillText(labels[l], g.left - 5, g.top + (l + 0.5) * g.rowH);
  }
  if (layer >= 0 && layer < g.rows) {
    ctx.strokeStyle = theme.fg;
    ctx.lineWidth = 2;
    ctx.strokeRect(g.left - 1, g.top + layer * g.rowH - 1, g.width + 2, g.rowH + 2);
  }
  ctx.fillStyle = theme.fgMuted;
  ctx.font = `11px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  ctx.fillText(caption, g.left, 9);
  ctx.restore();
}
