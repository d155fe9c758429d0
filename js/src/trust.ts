// The trust view ("Can I trust this map?"): layers x methods tables (TRUST_TABLES, generated from
// widget/protocol.py: gain over random on MoRF deletion, localisation against the ground-truth
// mask, rank correlation with the randomised model's maps ...), the selected cell's deletion
// curves, faithfulness against depth; and the
// randomised-model toggle (the same views drawn with the cascading-randomised model's maps).
import { formatTick, niceTicks } from "./axes";
import { decodeCached, type Decoded } from "./buffers";
import { halfTable } from "./compact";
import { shortLabels } from "./labels";
import { memo } from "./memo";
import { mapKey } from "./state";
import type { Rect } from "./layout";
import { rounded, type PaintedTrust } from "./painted";
import type { Theme } from "./theme";
import { TRUST_TABLES, type TrustTable } from "./protocol.gen";
import type { CamTraits, TraitReader, TrustMeta } from "./types";

/** The trust view's traits are part of CamTraits (generated from widget/protocol.py, TRUST). */
export type { TrustMeta } from "./types";
const get = <K extends keyof CamTraits>(m: TraitReader, k: K): CamTraits[K] => m.get(k);

/** A trust array trait decoded (float32 for float16 and the coded curves); null when empty. The
 * name is a string: a table's trait comes from TRUST_TABLES. */
function decoded(m: TraitReader, k: string): Decoded | null {
  const d = decodeCached(m.get(k as keyof CamTraits) as CamTraits["trust_gain"]);
  if (!d || d.data.length === 0) return null;
  if (d.dtype === "uint8" && (k === "trust_curves" || k === "trust_random")) {
    // probabilities as round(254 p), 255 for NaN (trust.py curve_bytes)
    const data = memo(d.data, "curve", () => Float32Array.from(d.data as Uint8Array, (v) => (v === 255 ? NaN : v / 254)));
    return { dtype: "float32", shape: d.shape, data };
  }
  if (d.dtype !== "float16") return d;
  // float16 (the curves travel so): float32 once per trait value
  const data = memo(d.data, "f32", () => {
    const h = halfTable();
    return Float32Array.from(d.data as Uint16Array, (v) => h[v]);
  });
  return { dtype: "float32", shape: d.shape, data };
}

/** Whether the randomised model's maps are there (the toggle can show them). */
export function hasRandomised(m: TraitReader): boolean {
  return decoded(m, "trust_rand_cube") !== null;
}

/**
 * The model as the map views read it when the randomised toggle is on: the cube is the
 * randomised model's (precomputed for the predicted class), the colour range its own.
 */
export function randomisedReader(m: TraitReader): TraitReader {
  const meta = (get(m, "trust_meta") ?? {}) as TrustMeta;
  const over: Partial<Record<keyof CamTraits, unknown>> = {
    precomputed: true,
    channel_keys: [], // the randomised model has no maps per channel here
    cube: get(m, "trust_rand_cube"),
    cube_scale: get(m, "trust_rand_scale"),
    cube_rows: get(m, "trust_rand_rows"),
    cube_keys: meta.keys ?? [],
    // the randomised maps explain the class the original model predicted (whatever the menu)
    target: "pred",
    value_range: m.get("norm") === "none" ? [] : m.get("value_range"),
  };
  return { get: (k) => (k in over ? over[k] : m.get(k)) as never };
}

// ---- colour scales --------------------------------------------------------------------------
function mix(a: number[], b: number[], t: number): string {
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * Math.min(1, Math.max(0, t))));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
const WHITE = [247, 247, 247];

/** "#rrggbb" as [r, g, b]. */
export function rgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

export interface TableSpec {
  name: string; // TrustTable.name: "gain" | "loc" | "corr" ...
  title: string;
  values: Float32Array; // [L, M]
  colour(v: number): string;
  /** the cell is dark: its text is white */
  dark(v: number): boolean;
}

/** Gain over random: diverging around 0 (red: better than random, blue: worse). */
export function gainColour(scale: number): (v: number) => string {
  const gain = TRUST_TABLES.find((t) => t.name === "gain")!;
  return tableColour({ ...gain, span: scale, grow: false }, new Float32Array(0)).colour;
}

/** A table's colour scale over its values (TrustTable: diverging around 0 or sequential from 0;
 * the span grown to the largest |value| when `grow`); dark past 0.6 of the span. */
function tableColour(t: TrustTable, values: Float32Array): Pick<TableSpec, "colour" | "dark"> {
  let span = t.span;
  if (t.grow) for (const v of values) if (Number.isFinite(v)) span = Math.max(span, Math.abs(v));
  const hi = rgb(t.colour);
  if (t.scale === "diverging") {
    const lo = rgb(t.negative);
    return { colour: (v) => (v >= 0 ? mix(WHITE, hi, v / span) : mix(WHITE, lo, -v / span)), dark: (v) => Math.abs(v) / span > 0.6 };
  }
  const f = t.magnitude ? Math.abs : (v: number) => v;
  return { colour: (v) => mix(WHITE, hi, f(v) / span), dark: (v) => f(v) / span > 0.6 };
}

/** A table's title: `{key}` filled with `trust_meta[key]`, underscores read as spaces. */
function tableTitle(title: string, meta: TrustMeta): string {
  return title.replace(/\{(\w+)\}/g, (_, k: string) => String((meta as Record<string, unknown>)[k] ?? "").replace(/_/g, " "));
}

/** The tables drawn: every entry of `tables` (default: the generated TRUST_TABLES) whose trait
 * is not empty, in order. */
export function trustTables(m: TraitReader, tables: readonly TrustTable[] = TRUST_TABLES): TableSpec[] {
  const meta = (get(m, "trust_meta") ?? {}) as TrustMeta;
  const out: TableSpec[] = [];
  for (const t of tables) {
    const d = decoded(m, t.trait);
    if (!d) continue;
    const values = d.data as Float32Array;
    out.push({ name: t.name, title: tableTitle(t.title, meta), values, ...tableColour(t, values) });
  }
  return out;
}

// ---- layout ---------------------------------------------------------------------------------
export interface TrustCell extends Rect {
  table: string;
  layer: number;
  col: number;
}

export interface TrustLayout {
  height: number;
  tables: { spec: TableSpec; x: number; y: number }[];
  cells: TrustCell[];
  curves: Rect;
  depth: Rect;
}

const TOP = 42;
const LABEL_W = 92;
const HEAD_H = 54;
const ROW_H = 20;
const TABLE_GAP = 18;
/** the depth axis's layer names: at most this wide (px), turned 45 degrees */
const DEPTH_LABEL_W = 84;
const DEPTH_LABEL_H = Math.ceil(DEPTH_LABEL_W * Math.SQRT1_2) + 10;

/** Label every k-th layer of the depth axis so that turned labels keep 11 px apart. */
export function depthLabelStep(L: number, width: number): number {
  const gap = L > 1 ? width / (L - 1 + 0.6) : width;
  return Math.max(1, Math.ceil(11 / Math.max(gap, 1e-9)));
}

export function trustLayout(m: TraitReader, width: number, list: readonly TrustTable[] = TRUST_TABLES): TrustLayout {
  const meta = (get(m, "trust_meta") ?? {}) as TrustMeta;
  const L = meta.layers?.length ?? 0;
  const M = meta.keys?.length ?? 0;
  const specs = trustTables(m, list);
  const wide = width >= 760;
  const leftW = wide ? Math.floor(width * 0.52) : width - 8;
  const cellW = M > 0 ? Math.max(26, Math.min(72, Math.floor((leftW - LABEL_W - 8) / M))) : 40;
  const tableH = HEAD_H + L * ROW_H;
  const tables = specs.map((spec, i) => ({ spec, x: 8, y: TOP + 16 + i * (tableH + TABLE_GAP + 16) }));
  const cells: TrustCell[] = [];
  for (const t of tables) {
    for (let l = 0; l < L; l++) {
      for (let c = 0; c < M; c++) {
        cells.push({ table: t.spec.name, layer: l, col: c, x: t.x + LABEL_W + c * cellW, y: t.y + HEAD_H + l * ROW_H, w: cellW, h: ROW_H });
      }
    }
  }
  const tablesBottom = tables.length ? tables[tables.length - 1].y + tableH : TOP;
  const rx = wide ? 8 + LABEL_W + M * cellW + 60 : 60;
  const rw = Math.max(120, width - rx - 150);
  const curves = wide ? { x: rx, y: TOP + 30, w: rw, h: 200 } : { x: rx, y: tablesBottom + 40, w: rw, h: 200 };
  const depth = { x: curves.x, y: curves.y + curves.h + 70, w: rw, h: 170 };
  const height = Math.max(tablesBottom + 16, depth.y + depth.h + DEPTH_LABEL_H + 20);
  return { height, tables, cells, curves, depth };
}

export function cellAt(lay: TrustLayout, x: number, y: number): TrustCell | null {
  for (const c of lay.cells) if (x >= c.x && x < c.x + c.w && y >= c.y && y < c.y + c.h) return c;
  return null;
}

/** The tooltip under a point of the trust view: the full layer name over a row label, with the
 * column and value over a cell, over a depth-axis label; "" elsewhere. */
export function hoverText(m: TraitReader, lay: TrustLayout, x: number, y: number): string {
  const meta = (get(m, "trust_meta") ?? {}) as TrustMeta;
  const layers = meta.layers ?? [];
  const keys = meta.keys ?? [];
  const cell = cellAt(lay, x, y);
  if (cell) {
    const t = lay.tables.find((q) => q.spec.name === cell.table);
    const v = t?.spec.values[cell.layer * keys.length + cell.col];
    const value = v !== undefined && Number.isFinite(v) ? v.toFixed(3) : "–";
    return `${layers[cell.layer] ?? ""} · ${keys[cell.col] ?? ""}: ${value}`;
  }
  for (const t of lay.tables) {
    const l = Math.floor((y - t.y - HEAD_H) / ROW_H);
    if (x >= t.x && x < t.x + LABEL_W && l >= 0 && l < layers.length) return layers[l];
  }
  const d = lay.depth;
  if (layers.length && x >= d.x - 20 && x <= d.x + d.w && y > d.y + d.h && y < d.y + d.h + DEPTH_LABEL_H) {
    // a turned label starts at its tick and runs down-left: the tick is up-right of the point
    const xr = [-0.3, Math.max(1, layers.length - 1) + 0.3];
    const along = x + (y - d.y - d.h);
    const l = Math.round(xr[0] + ((along - d.x) / d.w) * (xr[1] - xr[0]));
    if (l >= 0 && l < layers.length) return layers[l];
  }
  return "";
}

/** The (layer, column) of the trust table the controls point at (-1 when the method is absent). */
export function selectedCell(m: TraitReader): { layer: number; col: number } {
  const keys = ((get(m, "trust_meta") ?? {}) as TrustMeta).keys ?? [];
  const method = m.get("method");
  const red = m.get("reduction");
  let col = keys.indexOf(mapKey(method, red, m.get("reduction_methods") ?? []));
  if (col < 0) col = keys.findIndex((k) => k === method || k.split("/")[0] === method);
  return { layer: m.get("layer") | 0, col };
}

/** The controls a click on a cell sets: layer, method (and the reduction of a reduction method). */
export function cellControls(m: TraitReader, cell: { layer: number; col: number }): Partial<CamTraits> {
  const key = ((get(m, "trust_meta") ?? {}) as TrustMeta).keys?.[cell.col] ?? "";
  const [method, red] = key.split("/");
  const out: Partial<CamTraits> = { layer: cell.layer, method };
  if (red) out.reduction = red;
  return out;
}

// ---- drawing --------------------------------------------------------------------------------
function fit(ctx: CanvasRenderingContext2D, text: string, w: number): string {
  if (ctx.measureText(text).width <= w) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(s + "…").width > w) s = s.slice(0, -1);
  return s + "…";
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function frame(ctx: CanvasRenderingContext2D, theme: Theme, r: Rect, x: [number, number], y: [number, number], xl: string, yl: string, xt?: number[], xfmt?: (v: number) => string, turned = false): void {
  const sx = (v: number) => r.x + ((v - x[0]) / (x[1] - x[0])) * r.w;
  const sy = (v: number) => r.y + r.h - ((v - y[0]) / (y[1] - y[0])) * r.h;
  const yt = niceTicks(y[0], y[1], 5);
  const xs = xt ?? niceTicks(x[0], x[1], 6);
  ctx.save();
  ctx.strokeStyle = theme.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (const v of yt) { const p = Math.round(sy(v)) + 0.5; ctx.moveTo(r.x, p); ctx.lineTo(r.x + r.w, p); }
  ctx.stroke();
  ctx.strokeStyle = theme.fgMuted;
  ctx.strokeRect(Math.round(r.x) + 0.5, Math.round(r.y) + 0.5, Math.round(r.w), Math.round(r.h));
  ctx.fillStyle = theme.fgMuted;
  ctx.font = `10px ${theme.font}`;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of yt) ctx.fillText(formatTick(v, yt), r.x - 4, sy(v));
  ctx.textAlign = turned ? "right" : "center";
  ctx.textBaseline = turned ? "middle" : "top";
  let drop = 17; // the axis title under the tick labels
  for (const v of xs) {
    const text = xfmt ? xfmt(v) : formatTick(v, xs);
    if (!turned) { ctx.fillText(text, sx(v), r.y + r.h + 3); continue; }
    drop = Math.max(drop, Math.ceil(ctx.measureText(text).width * Math.SQRT1_2) + 12);
    ctx.save(); // turned 45 degrees: long names side by side
    ctx.translate(sx(v), r.y + r.h + 4);
    ctx.rotate(-Math.PI / 4);
    ctx.fillText(text, 0, 0);
    ctx.restore();
  }
  ctx.fillStyle = theme.fg;
  ctx.font = `11px ${theme.font}`;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(xl, r.x + r.w / 2, r.y + r.h + Math.min(drop, DEPTH_LABEL_H));
  ctx.save();
  ctx.translate(r.x - 36, r.y + r.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textBaseline = "middle";
  ctx.fillText(yl, 0, 0);
  ctx.restore();
  ctx.restore();
}

/** Indices of the finite values without a finite neighbour: a line through them draws nothing,
 * so polyline gives them a dot (an input attribution's one layer, `input`, on the depth plot). */
export function isolatedPoints(ys: ArrayLike<number>): number[] {
  const ok = (i: number) => i >= 0 && i < ys.length && Number.isFinite(ys[i]);
  const out: number[] = [];
  for (let i = 0; i < ys.length; i++) if (ok(i) && !ok(i - 1) && !ok(i + 1)) out.push(i);
  return out;
}

function polyline(ctx: CanvasRenderingContext2D, r: Rect, xs: ArrayLike<number>, ys: ArrayLike<number>, x: [number, number], y: [number, number], colour: string, width: number, dash: number[]): number {
  const sx = (v: number) => r.x + ((v - x[0]) / (x[1] - x[0])) * r.w;
  const sy = (v: number) => r.y + r.h - ((v - y[0]) / (y[1] - y[0])) * r.h;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.setLineDash(dash);
  ctx.beginPath();
  let open = false;
  let drawn = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = ys[i];
    if (!Number.isFinite(v)) { open = false; continue; }
    if (open) ctx.lineTo(sx(xs[i]), sy(v));
    else ctx.moveTo(sx(xs[i]), sy(v));
    open = true;
    drawn++;
  }
  ctx.stroke();
  ctx.fillStyle = colour;
  for (const i of isolatedPoints(ys)) {
    ctx.beginPath();
    ctx.arc(sx(xs[i]), sy(ys[i]), width + 1, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.restore();
  return drawn;
}

function legend(ctx: CanvasRenderingContext2D, theme: Theme, x: number, y: number, items: [string, string, number[]][]): void {
  ctx.save();
  ctx.font = `10px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  items.forEach(([label, colour, dash], i) => {
    const cy = y + i * 14;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.setLineDash(dash);
    ctx.beginPath();
    ctx.moveTo(x, cy);
    ctx.lineTo(x + 22, cy);
    ctx.stroke();
    ctx.fillStyle = theme.fg;
    ctx.fillText(label, x + 26, cy);
  });
  ctx.restore();
}

export interface TrustDrawn {
  layout: TrustLayout;
  /** drawn points per curve (tests): morf, lerf, random (sample), and the sample-mean ones */
  points: Record<string, number>;
}

/** Draw the trust view on a canvas (transform already scaled); returns its geometry. */
export function drawTrust(ctx: CanvasRenderingContext2D, m: TraitReader, width: number, theme: Theme, list: readonly TrustTable[] = TRUST_TABLES): TrustDrawn {
  const lay = trustLayout(m, width, list);
  const meta = (get(m, "trust_meta") ?? {}) as TrustMeta;
  const labels = m.get("method_labels") ?? {};
  const keys = meta.keys ?? [];
  const layers = meta.layers ?? [];
  const short = shortLabels(layers);
  const keyLabel = (k: string) => { const [a, b] = k.split("/"); return (labels[a] ?? a) + (b ? ` (${b})` : ""); };
  ctx.save();
  ctx.fillStyle = theme.bg;
  ctx.fillRect(0, 0, width, lay.height);
  ctx.fillStyle = theme.fg;
  ctx.font = `bold 13px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const points: Record<string, number> = {};
  if (meta.state !== "done") {
    const why = meta.state === "off" ? "trust scores are off (CamWidget(..., trust=False))"
      : meta.state === "failed" ? `trust scores failed: ${meta.error ?? ""}`
      : m.get("offline") ? "no trust scores in this page (save_html after computing them)"
      : "computing the trust scores...";
    ctx.fillText(why, 8, 16);
    ctx.restore();
    return { layout: lay, points };
  }
  ctx.fillText(fit(ctx, `Can I trust this map? ${meta.samples} samples, ${meta.steps} steps, ${meta.random_draws} random draws`, width - 16), 8, 14);
  ctx.font = `10px ${theme.font}`;
  ctx.fillStyle = theme.fgMuted;
  ctx.fillText(fit(ctx, `deletion: ${meta.perturbation ?? ""}; click a cell to show that layer and method`, width - 16), 8, 30);
  const sel = selectedCell(m);
  // tables
  for (const t of lay.tables) {
    ctx.fillStyle = theme.fg;
    ctx.font = `bold 11px ${theme.font}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText(t.spec.title, t.x, t.y - 1);
    const first = lay.cells.find((c) => c.table === t.spec.name);
    const cw = first?.w ?? 40;
    ctx.font = `9px ${theme.font}`;
    ctx.textAlign = "center";
    keys.forEach((k, c) => {
      const cx = t.x + LABEL_W + c * cw + cw / 2;
      ctx.save();
      ctx.translate(cx, t.y + HEAD_H - 3);
      ctx.rotate(-0.6);
      ctx.textAlign = "left";
      ctx.fillText(fit(ctx, keyLabel(k), 84), 0, 0);
      ctx.restore();
    });
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.font = `10px ${theme.font}`;
    // the shortest dotted suffix that tells the rows apart; the full name on hover (hoverText)
    short.forEach((name, l) => ctx.fillText(fit(ctx, name, LABEL_W - 6), t.x + LABEL_W - 4, t.y + HEAD_H + l * ROW_H + ROW_H / 2));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (const c of lay.cells) {
    const spec = lay.tables.find((t) => t.spec.name === c.table)!.spec;
    const v = spec.values[c.layer * keys.length + c.col];
    ctx.fillStyle = Number.isFinite(v) ? spec.colour(v) : theme.bg;
    ctx.fillRect(c.x, c.y, c.w - 1, c.h - 1);
    ctx.fillStyle = !Number.isFinite(v) ? theme.fgMuted : spec.dark(v) ? "#fff" : "#222";
    ctx.font = `10px ${theme.font}`;
    ctx.fillText(Number.isFinite(v) ? v.toFixed(2) : "–", c.x + c.w / 2, c.y + c.h / 2);
    if (c.layer === sel.layer && c.col === sel.col) {
      ctx.strokeStyle = theme.fg;
      ctx.lineWidth = 2;
      ctx.strokeRect(c.x + 1, c.y + 1, c.w - 3, c.h - 3);
    }
  }
  // curves of the selected cell
  const fr = decoded(m, "trust_fractions")?.data as Float32Array | undefined;
  const cv = decoded(m, "trust_curves");
  const rnd = decoded(m, "trust_random");
  const r = lay.curves;
  const name = `${keyLabel(keys[sel.col] ?? m.get("method"))} @ ${layers[sel.layer] ?? sel.layer}`;
  const ids = decodeCached(m.get("sample_ids"))?.data;
  const s = m.get("sample") | 0;
  ctx.fillStyle = theme.fg;
  ctx.font = `bold 11px ${theme.font}`;
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillText(fit(ctx, `${name}: deletion curves, sample #${ids?.[s] ?? s}`, r.w + 40), r.x - 40, r.y - 6);
  frame(ctx, theme, r, [0, 1], [0, 1], "fraction removed", "target probability");
  if (fr && cv && rnd && sel.col >= 0) {
    const [N, L, M, , K1] = cv.shape;
    const d = cv.data as Float32Array;
    const rd = rnd.data as Float32Array;
    const at = (n: number, o: number) => d.subarray(((((n * L + sel.layer) * M + sel.col) * 2 + o) * K1), ((((n * L + sel.layer) * M + sel.col) * 2 + o) * K1) + K1);
    const mean = (pick: (n: number) => ArrayLike<number>) => {
      const out = new Float32Array(K1);
      const cnt = new Float32Array(K1);
      for (let n = 0; n < N; n++) { const a = pick(n); for (let k = 0; k < K1; k++) if (Number.isFinite(a[k])) { out[k] += a[k]; cnt[k]++; } }
      for (let k = 0; k < K1; k++) out[k] = cnt[k] ? out[k] / cnt[k] : NaN;
      return out;
    };
    const morfC = "#d7301f";
    const lerfC = "#0570b0";
    const randC = "#737373";
    if (sel.layer < L) {
      points.morf_mean = polyline(ctx, r, fr, mean((n) => at(n, 0)), [0, 1], [0, 1], morfC, 1.2, [4, 3]);
      points.lerf_mean = polyline(ctx, r, fr, mean((n) => at(n, 1)), [0, 1], [0, 1], lerfC, 1.2, [4, 3]);
      points.random_mean = polyline(ctx, r, fr, mean((n) => rd.subarray(n * K1, n * K1 + K1)), [0, 1], [0, 1], randC, 1.2, [4, 3]);
      if (s < N) {
        points.morf = polyline(ctx, r, fr, at(s, 0), [0, 1], [0, 1], morfC, 2.2, []);
        points.lerf = polyline(ctx, r, fr, at(s, 1), [0, 1], [0, 1], lerfC, 2.2, []);
        points.random = polyline(ctx, r, fr, rd.subarray(s * K1, s * K1 + K1), [0, 1], [0, 1], randC, 2.2, []);
      }
    }
    legend(ctx, theme, r.x + r.w + 10, r.y + 8, [
      ["MoRF", morfC, []], ["LeRF", lerfC, []], ["random", randC, []],
      ["mean MoRF", morfC, [4, 3]], ["mean LeRF", lerfC, [4, 3]], ["mean random", randC, [4, 3]],
    ]);
  }
  // faithfulness against depth
  const g = decoded(m, "trust_gain")?.data as Float32Array | undefined;
  const dr = lay.depth;
  if (g && layers.length > 0) {
    const M = keys.length;
    let lo = 0;
    let hi = 0.05;
    for (const v of g) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const pad = (hi - lo) * 0.08;
    const yr: [number, number] = [lo - pad, hi + pad];
    const xr: [number, number] = [-0.3, Math.max(1, layers.length - 1) + 0.3];
    ctx.fillStyle = theme.fg;
    ctx.font = `bold 11px ${theme.font}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText("faithfulness (gain over random) against depth", dr.x - 40, dr.y - 6);
    const xt = layers.map((_, i) => i);
    // the rows' short names, turned to fit: every layer's where there is room, else every k-th
    const every = depthLabelStep(layers.length, dr.w);
    frame(ctx, theme, dr, xr, yr, "layer", "gain", xt.filter((v) => v % every === 0), (v) => fit(ctx, short[v] ?? "", DEPTH_LABEL_W), true);
    const sx = dr.x + ((sel.layer - xr[0]) / (xr[1] - xr[0])) * dr.w;
    ctx.save();
    ctx.strokeStyle = theme.fgMuted;
    ctx.setLineDash([2, 2]);
    ctx.beginPath();
    ctx.moveTo(sx, dr.y);
    ctx.lineTo(sx, dr.y + dr.h);
    const z = dr.y + dr.h - ((0 - yr[0]) / (yr[1] - yr[0])) * dr.h;
    ctx.moveTo(dr.x, z);
    ctx.lineTo(dr.x + dr.w, z);
    ctx.stroke();
    ctx.restore();
    let total = 0;
    const items: [string, string, number[]][] = [];
    for (let c = 0; c < M; c++) {
      const ys = Float32Array.from(layers, (_, l) => g[l * M + c]);
      const colour = PALETTE[c % PALETTE.length];
      total += polyline(ctx, dr, xt, ys, xr, yr, colour, c === sel.col ? 3 : 1.4, []);
      items.push([fit(ctx, keyLabel(keys[c]), 120), colour, []]);
    }
    points.depth = total;
    legend(ctx, theme, dr.x + dr.w + 10, dr.y + 8, items);
  }
  ctx.restore();
  return { layout: lay, points };
}

// ---- DOM ------------------------------------------------------------------------------------
export interface TrustPane {
  canvas: HTMLCanvasElement;
  toggle: HTMLLabelElement;
  /** draw (trust view) or hide; returns whether the trust view is shown */
  update(m: TraitReader, width: number, theme: Theme, size: (c: HTMLCanvasElement, w: number, h: number) => CanvasRenderingContext2D | null): boolean;
  /** what the last update drew (for the painted event), null when the trust view is hidden */
  painted(): PaintedTrust | null;
  dispose(): void;
}

export function createTrustPane(change: (c: Partial<CamTraits>) => void): TrustPane {
  const canvas = document.createElement("canvas");
  canvas.className = "tscam-trust tscam-hidden";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.setAttribute("data-lm-suppress-shortcuts", "");
  box.dataset.control = "randomised";
  const toggle = document.createElement("label");
  const span = document.createElement("span");
  span.className = "tscam-muted";
  span.textContent = "randomised model";
  toggle.append(box, span);
  toggle.title = "sanity check: the maps of the model with every layer's weights re-initialised (cascading randomisation, head first)";
  let last: TrustLayout | null = null;
  let drawn: PaintedTrust | null = null;
  let reader: TraitReader | null = null;
  box.addEventListener("change", () => change({ randomised: box.checked }));
  const onClick = (ev: MouseEvent) => {
    if (!last || !reader) return;
    const r = canvas.getBoundingClientRect();
    const c = cellAt(last, ev.clientX - r.left, ev.clientY - r.top);
    if (c) change(cellControls(reader, c));
  };
  canvas.addEventListener("click", onClick);
  const onMove = (ev: MouseEvent) => {
    if (!last || !reader) return;
    const r = canvas.getBoundingClientRect();
    const text = hoverText(reader, last, ev.clientX - r.left, ev.clientY - r.top);
    if (canvas.title !== text) canvas.title = text;
  };
  canvas.addEventListener("mousemove", onMove);
  return {
    canvas,
    toggle,
    update(m, width, theme, size) {
      reader = m;
      const on = !!get(m, "randomised");
      if (box.checked !== on) box.checked = on;
      const offline = !!m.get("offline");
      box.disabled = offline && !hasRandomised(m);
      toggle.classList.toggle("tscam-hidden", get(m, "trust_meta")?.state === "off");
      const shown = m.get("view") === "trust";
      canvas.classList.toggle("tscam-hidden", !shown);
      drawn = null;
      if (!shown) return false;
      const lay = trustLayout(m, width);
      const ctx = size(canvas, width, lay.height);
      if (ctx) {
        const out = drawTrust(ctx, m, width, theme);
        last = out.layout;
        drawn = {
          state: get(m, "trust_meta")?.state ?? "",
          cells: out.layout.cells.map((c) => ({ table: c.table, layer: c.layer, col: c.col, ...rounded(c) })),
          curves: out.layout.curves,
          depth: out.layout.depth,
          points: out.points,
          selected: selectedCell(m),
        };
      }
      return true;
    },
    painted: () => drawn,
    dispose() {
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("mousemove", onMove);
    },
  };
}
