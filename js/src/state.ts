// Model glue: which map to draw (precomputed `cube` or kernel `maps`), and writing controls back.
import { decodeCached } from "./buffers";
import { decodeMap, unitReader } from "./compact";
import { KERNEL_NEEDS } from "./protocol.gen";
import type { CamTraits, ControlName, MapsMeta, TraitReader } from "./types";

/** Column of `cube_keys` for a method: "gradcam", or "activation/mean" for reduction methods. */
export function mapKey(method: string, reduction: string, reductionMethods: string[]): string {
  return reductionMethods.includes(method) ? `${method}/${reduction}` : method;
}

/** Targets compare loosely: the class 1 may come back as "1". */
export function sameTarget(a: unknown, b: unknown): boolean {
  return String(a) === String(b);
}

/** Maps of every layer for some samples: map(n, l) is a [T] view (no copy), null if absent. */
export interface MapSource {
  L: number;
  T: number;
  map(n: number, l: number): Float32Array | null;
}

export type Resolution =
  | {
      ready: true;
      source: MapSource;
      valueRange: [number, number] | null;
      /** norm "none": the colour range of a layer's maps (of the current method), else null */
      layerRange: ((l: number) => [number, number]) | null;
    }
  | { ready: false; why: string };

function pending(why: string): Resolution {
  return { ready: false, why };
}

/** Does kernel-mode `maps_meta` answer the current controls for these samples? */
export function metaMatches(meta: MapsMeta | null, m: TraitReader, samples: number[]): boolean {
  if (!meta) return false;
  const method = m.get("method");
  if (meta.method !== method) return false;
  if (m.get("reduction_methods").includes(method) && meta.reduction !== m.get("reduction")) return false;
  if (!sameTarget(meta.target, m.get("target"))) return false;
  if (meta.norm !== m.get("norm")) return false;
  const have = meta.samples ?? [];
  return samples.every((n) => have.includes(n));
}

/** The class each sample's map explains under the current target (-1: unknown). */
export function targetClasses(m: TraitReader, N: number): Int32Array {
  const target = m.get("target");
  if (target === "pred" || target === "true") {
    const src = decodeCached(m.get(target === "pred" ? "y_pred_buffer" : "y_true_buffer"))?.data;
    const out = new Int32Array(N).fill(-1);
    if (src) for (let n = 0; n < N && n < src.length; n++) out[n] = src[n];
    return out;
  }
  return new Int32Array(N).fill(Number(target));
}

/** Decoded maps of one `cube` value, per (norm, row, layer, key); layer ranges per target. */
interface CubeCache {
  rowsObj: unknown; // the cube_rows value the entries were made for
  maps: Map<string, Float32Array>;
  layerRanges: Map<string, Float32Array>;
  /** per target: rows, rows used, and the extent of their maps (norm "none") */
  targets: Map<string, { sel: { rows: Int32Array; missing: number }; used: number[]; extents: Map<string, [number, number]> }>;
}
const cubeCaches = new WeakMap<object, CubeCache>();
const MAX_MAPS = 20000;

/** Per layer and key, (min lo, max hi) over the rows used: Float32Array [L * M * 2]. */
function layerRanges(scale: Float32Array, rowsUsed: number[], L: number, M: number): Float32Array {
  const out = new Float32Array(L * M * 2);
  for (let j = 0; j < L * M; j++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of rowsUsed) {
      const a = scale[(r * L * M + j) * 2];
      const b = scale[(r * L * M + j) * 2 + 1];
      if (Number.isNaN(a)) continue;
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
    out[2 * j] = Number.isFinite(lo) ? lo : NaN;
    out[2 * j + 1] = Number.isFinite(hi) ? hi : NaN;
  }
  return out;
}

/** Rows of the cube for the current target (-1: none), and whether the target is covered. */
export function cubeRows(m: TraitReader, N: number): { rows: Int32Array; missing: number } | null {
  const rowsT = decodeCached(m.get("cube_rows"));
  if (!rowsT || rowsT.shape.length !== 2) return null;
  const K = rowsT.shape[1];
  const cls = targetClasses(m, N);
  const rows = new Int32Array(N).fill(-1);
  let missing = 0;
  for (let n = 0; n < N && n < rowsT.shape[0]; n++) {
    const c = cls[n];
    const r = c >= 0 && c < K ? rowsT.data[n * K + c] : -1;
    rows[n] = r;
    if (r < 0) {
      // a sample with no row at all has no map for any class (non-finite values): not missing
      let any = false;
      for (let k = 0; k < K; k++) if (rowsT.data[n * K + k] >= 0) any = true;
      if (any && c >= 0) missing++;
    }
  }
  return { rows, missing };
}

function precomputedMaps(m: TraitReader, samples: number[]): Resolution {
  const cube = m.get("cube");
  const u = decodeCached(cube);
  const scaleT = decodeCached(m.get("cube_scale"));
  if (!cube || !u || u.shape.length !== 4 || !scaleT) return pending("no cube yet");
  const [R, L, M, T] = u.shape;
  const k = m.get("cube_keys").indexOf(mapKey(m.get("method"), m.get("reduction"), m.get("reduction_methods")));
  if (k < 0 || k >= M) return pending("method not in cube");
  const N = m.get("n_samples") || (decodeCached(m.get("cube_rows"))?.shape[0] ?? 0);
  const scale = scaleT.data as Float32Array;
  const targetKey = String(m.get("target"));
  let cache = cubeCaches.get(cube);
  const rowsObj = m.get("cube_rows");
  if (!cache || cache.rowsObj !== rowsObj) {
    cubeCaches.set(cube, (cache = { rowsObj, maps: new Map(), layerRanges: new Map(), targets: new Map() }));
  }
  const c = cache;
  let tgt = c.targets.get(targetKey);
  if (!tgt) {
    const s = cubeRows(m, N);
    if (!s) return pending("no cube yet");
    const used = Array.from(s.rows).filter((r) => r >= 0 && r < R);
    c.targets.set(targetKey, (tgt = { sel: s, used, extents: new Map() }));
  }
  const { sel, used } = tgt;
  const { rows } = sel;
  if (samples.some((n) => n >= 0 && n < N && rows[n] < 0 && sel.missing > 0 && rowsHaveAny(m, n))) {
    return pending(m.get("offline")
      ? `no maps for target ${targetKey} in this page (save_html(targets="all") embeds every class)`
      : "waiting for maps");
  }
  const norm = m.get("norm");
  const meta = m.get("cube_meta");
  const sr = meta?.scale_range;
  const range: [number, number] = Array.isArray(sr) && sr.length === 2 ? [Number(sr[0]), Number(sr[1])] : [0, 1];
  let lr: Float32Array | null = null;
  if (norm === "layer") {
    lr = c.layerRanges.get(targetKey) ?? null;
    if (!lr) c.layerRanges.set(targetKey, (lr = layerRanges(scale, used, L, M)));
  }
  // norm "none": the extent of this layer's maps of this method for this target, as Python's
  const extents = tgt.extents;
  const layerRange = (l: number): [number, number] => {
    let e = extents.get(`${l}|${k}`);
    if (!e) extents.set(`${l}|${k}`, (e = extentOf(scale, used, L, M, l, k)));
    return e;
  };
  const cur = Math.min(Math.max(0, m.get("layer") | 0), L - 1);
  const valueRange: [number, number] = norm === "none" ? layerRange(cur) : range;
  const unit = unitReader(u.dtype, u.data);
  const layerR = lr;
  return {
    ready: true,
    valueRange,
    layerRange: norm === "none" ? layerRange : null,
    source: {
      L,
      T,
      map: (n, l) => {
        if (!(n >= 0 && n < N && l >= 0 && l < L)) return null;
        const r = rows[n];
        if (r < 0 || r >= R) return null;
        const key = `${norm}|${norm === "layer" ? targetKey : ""}|${r}|${l}|${k}`;
        let out = c.maps.get(key);
        if (!out) {
          const j = (r * L + l) * M + k;
          const layer: [number, number] | null = layerR ? [layerR[2 * (l * M + k)], layerR[2 * (l * M + k) + 1]] : null;
          out = decodeMap(unit, j * T, T, scale[2 * j], scale[2 * j + 1], norm, range, layer);
          if (c.maps.size >= MAX_MAPS) c.maps.clear();
          c.maps.set(key, out);
        }
        return out;
      },
    },
  };
}

/** (min lo, max hi) of the maps (layer l, key k) of the cube rows `used` ([0, 1] if none). */
export function extentOf(scale: Float32Array, used: number[], L: number, M: number, l: number, k: number): [number, number] {
  return extentOfScales(used.map((r) => (r * L + l) * M + k), scale);
}

/** (min lo, max hi) over the maps `js` of a scale array [..., 2]; NaN lo skipped; [0, 1] if none. */
export function extentOfScales(js: number[], scale: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const j of js) {
    const a = scale[2 * j];
    if (Number.isNaN(a)) continue;
    if (a < lo) lo = a;
    const b = scale[2 * j + 1];
    if (b > hi) hi = b;
  }
  return Number.isFinite(lo) ? [lo, hi] : [0, 1];
}

function rowsHaveAny(m: TraitReader, n: number): boolean {
  const rowsT = decodeCached(m.get("cube_rows"));
  if (!rowsT) return false;
  const K = rowsT.shape[1];
  for (let k = 0; k < K; k++) if (rowsT.data[n * K + k] >= 0) return true;
  return false;
}

/** Kernel-mode maps decoded once per `maps` value and the `maps_scale` they were decoded with
 * (Float32Array [S * L * T]): a norm change sends new ranges with the very same unit values, and
 * traitlets then sends no new `maps`. */
const kernelCache = new WeakMap<object, { scale: unknown; data: Float32Array }>();
function kernelValues(m: TraitReader): { data: Float32Array; shape: number[] } | null {
  const obj = m.get("maps");
  const u = decodeCached(obj);
  if (!obj || !u || u.shape.length !== 3) return null;
  const scaleObj = m.get("maps_scale");
  const hit = kernelCache.get(obj);
  let data = hit && hit.scale === scaleObj ? hit.data : undefined;
  if (!data) {
    const [S, L, T] = u.shape;
    const scale = decodeCached(scaleObj)?.data as Float32Array | undefined;
    data = new Float32Array(S * L * T);
    if (!scale || scale.length !== S * L * 2) {
      if (u.dtype === "float32") data.set(u.data as Float32Array); // plain float32 maps
      else return null;
    } else {
      const unit = unitReader(u.dtype, u.data);
      for (let j = 0; j < S * L; j++) data.set(decodeMap(unit, j * T, T, scale[2 * j], scale[2 * j + 1], "none", [0, 1], null), j * T);
    }
    kernelCache.set(obj, { scale: scaleObj, data });
  }
  return { data, shape: u.shape };
}

/** Pick the maps to draw for `samples` from the cube (precompute mode) or `maps` (kernel mode). */
export function resolveMaps(m: TraitReader, samples: number[]): Resolution {
  if (m.get("precomputed")) return precomputedMaps(m, samples);
  const meta = m.get("maps_meta");
  if (!metaMatches(meta, m, samples)) return pending("waiting for maps");
  const maps = kernelValues(m);
  if (!maps) return pending("no maps yet");
  const [S, L, T] = maps.shape;
  const have = meta?.samples ?? [];
  const data = maps.data;
  // norm "none": a layer's range over the samples sent (maps_scale [S, L, 2]), as Python's
  const scale = decodeCached(m.get("maps_scale"))?.data;
  const layerRange = meta?.norm === "none" && scale && scale.length === S * L * 2
    ? (l: number) => extentOfScales(Array.from({ length: S }, (_, s) => s * L + l), scale)
    : null;
  const cur = Math.min(Math.max(0, m.get("layer") | 0), L - 1);
  return {
    ready: true,
    valueRange: layerRange ? layerRange(cur) : null,
    layerRange,
    source: {
      L,
      T,
      map: (n, l) => {
        const s = have.indexOf(n);
        return s >= 0 && s < S && l >= 0 && l < L ? data.subarray((s * L + l) * T, (s * L + l + 1) * T) : null;
      },
    },
  };
}

export type { ControlName };

const CUBE_NEEDS: ControlName[] = ["target"]; // every norm is in the cube

/** Does this change need new maps from Python (and so a new request_id)? */
export function needsMaps(names: string[], precomputed: boolean): boolean {
  // KERNEL_NEEDS: the controls marked `kernel` in widget/protocol.py
  const list: readonly string[] = precomputed ? CUBE_NEEDS : KERNEL_NEEDS;
  return names.some((n) => list.includes(n));
}

export interface TraitWriter extends TraitReader {
  set<K extends keyof CamTraits>(key: K, value: CamTraits[K]): void;
  save_changes(): void;
}

/** Set controls as the user changed them, bump request_id when maps are needed, sync once. */
export function setControls(m: TraitWriter, changes: Partial<CamTraits>): void {
  const names = Object.keys(changes).filter((k) => m.get(k as keyof CamTraits) !== changes[k as keyof CamTraits]);
  if (names.length === 0) return;
  for (const k of names) m.set(k as keyof CamTraits, changes[k as keyof CamTraits] as never);
  if (needsMaps(names, !!m.get("precomputed"))) m.set("request_id", (m.get("request_id") || 0) + 1);
  m.save_changes();
}
