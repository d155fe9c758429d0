// The layer strip: a heatmap of the current sample's maps, one row per layer, over time.
import { colourIndex, ColourTable } from "./colour";
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
function stripImage(maps: (Float32Array | null)[], rows: number, cols: number, range: [number, number], table: ColourTable): ImageData {
  const img = new ImageData(cols, rows);
  const d = img.data;
  for (let l = 0; l < rows; l++) {
    const m = maps[l];
    const col = m ? memo(m, `colmax:${cols}`, () => columnMax(m, cols)) : null;
    for (let c = 0; c < cols; c++) {
      const k = col ? colourIndex(col[c], range[0], range[1]) : -1;
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
): void {
  ctx.fillStyle = theme.bg;
  ctx.fillRect(0, 0, g.left + g.width + 200, g.height);
  const T = maps.find((m) => m)?.length ?? 0;
  const cols = Math.max(1, Math.min(T || 1, Math.round(g.width * dpr)));
  scratch ??= document.createElement("canvas");
  const rows = Math.max(1, g.rows);
  // the heatmap only changes with the sample/method/reduction (the maps), the width, the range
  // and the colour table; a layer change reuses it and redraws labels and highlight only
  const key = `${cols}|${rows}|${range[0]}|${range[1]}|${tableId(table)}`;
  const buf = maps.find((m) => m)?.buffer ?? null;
  const full = `${key}|${maps.map((m) => (m ? `${m.byteOffset}:${m.length}` : "-")).join(",")}`;
  if (buf !== scratchBuf || full !== scratchKey) {
    scratch.width = cols;
    scratch.height = rows;
    const sctx = scratch.getContext("2d");
    if (!sctx) return;
    sctx.putImageData(stripImage(maps, rows, cols, range, table), 0, 0);
    scratchBuf = buf;
    scratchKey = full;
  }
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, g.left, g.top, g.width, g.rows * g.rowH);
  ctx.font = `${Math.min(11, g.rowH)}px ${theme.font}`;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let l = 0; l < g.rows; l++) {
    ctx.fillStyle = l === layer ? theme.fg : theme.fgMuted;
    ctx.font = `${l === layer ? "bold " : ""}${Math.min(11, g.rowH)}px ${theme.font}`;
    if (g.rowH >= 8 || l === layer) {
      let name = layerNames[l] ?? String(l);
      while (name.length > 3 && ctx.measureText(name).width > g.left - 8) name = "…" + name.slice(2);
      ctx.fillText(name, g.left - 5, g.top + (l + 0.5) * g.rowH);
    }
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
