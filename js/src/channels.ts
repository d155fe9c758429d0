// Maps per channel on the input layer: which sensor mattered. Python sends the raw maps per
// channel (after the method's ReLU) with one (lo, hi) per sample over its whole [C, T]
// (`channel_cube` for every sample offline / precomputed, `channel_maps` for the shown samples in
// kernel mode); here they are decoded under the current norm and turned into channel shares.
import { decodeCached } from "./buffers";
import { decodeMap, unitReader } from "./compact";
import { cubeRows, extentOfScales, mapKey } from "./state";
import type { TraitReader } from "./types";

/** A sample's maps per channel and what the channel bar shows. */
export interface ChannelSource {
  C: number;
  T: number;
  /** the colour range of the maps per channel under the current norm */
  valueRange: [number, number];
  /** C views [T] of sample n's maps per channel under the current norm; null when absent */
  maps(n: number): Float32Array[] | null;
  /** sample n's share of |attribution| per channel (sums to 1); null when absent */
  share(n: number): Float32Array | null;
  /** the mean share over those of `samples` that have maps, and how many had */
  meanShare(samples: readonly number[]): { share: Float32Array; count: number } | null;
}

interface Held {
  key: object; // the decoded buffer: what the decoded maps are cached by
  unit: (i: number) => number;
  scale: ArrayLike<number>; // [..., 2]
  C: number;
  T: number;
  /** index j of sample n's map (offset j*C*T in unit, range at scale[2j]); -1 when absent */
  index(n: number): number;
  /** the indices the norm "none"/"layer" extents are taken over */
  used: number[];
}

const decodedMaps = new WeakMap<object, Map<string, Float32Array>>();
const decodedShares = new WeakMap<object, Map<string, Float32Array>>();

/** The cache of one buffer, cleared past `most` entries (maps [C * T] are big, shares small). */
function cacheFor(caches: WeakMap<object, Map<string, Float32Array>>, obj: object, most: number): Map<string, Float32Array> {
  let c = caches.get(obj);
  if (!c) caches.set(obj, (c = new Map()));
  if (c.size > most) c.clear();
  return c;
}

/** Shares of |x| per channel of a raw [C * T] map (equal shares when it is all zero). */
export function channelShares(raw: Float32Array, C: number, T: number): Float32Array {
  const out = new Float32Array(C);
  let total = 0;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let t = 0; t < T; t++) s += Math.abs(raw[c * T + t]);
    out[c] = s;
    total += s;
  }
  for (let c = 0; c < C; c++) out[c] = total > 0 ? out[c] / total : 1 / C;
  return out;
}

function precomputedHeld(m: TraitReader, key: string): Held | null {
  const cube = decodeCached(m.get("channel_cube"));
  const scaleT = decodeCached(m.get("channel_scale"));
  if (!cube || cube.shape.length !== 4 || !scaleT) return null;
  const [R, K, C, T] = cube.shape;
  const k = (m.get("channel_keys") ?? []).indexOf(key);
  if (k < 0 || k >= K) return null;
  const N = m.get("n_samples") || (decodeCached(m.get("cube_rows"))?.shape[0] ?? 0);
  const sel = cubeRows(m, N);
  if (!sel) return null;
  const rows = sel.rows;
  const index = (n: number): number => (n >= 0 && n < N && rows[n] >= 0 && rows[n] < R ? rows[n] * K + k : -1);
  const used: number[] = [];
  for (let n = 0; n < N; n++) if (index(n) >= 0) used.push(index(n));
  return { key: cube.data, unit: unitReader(cube.dtype, cube.data), scale: scaleT.data, C, T, index, used };
}

function kernelHeld(m: TraitReader): Held | null {
  const meta = m.get("maps_meta");
  if (!meta?.channels) return null;
  const u = decodeCached(m.get("channel_maps"));
  const scaleT = decodeCached(m.get("channel_maps_scale"));
  if (!u || u.shape.length !== 3 || !scaleT) return null;
  const [S, C, T] = u.shape;
  const have = meta.samples ?? [];
  const index = (n: number): number => {
    const s = have.indexOf(n);
    return s >= 0 && s < S ? s : -1;
  };
  return { key: u.data, unit: unitReader(u.dtype, u.data), scale: scaleT.data, C, T, index, used: Array.from({ length: S }, (_, s) => s) };
}

/**
 * The maps per channel for the current method, reduction, target and norm, or null when the
 * method has none (or they have not come yet). norm "sample": each sample's [C, T] scaled
 * together to the scale range; "layer": by the extent over every sample held (offline and
 * precomputed: all samples; kernel mode: the samples shown); "none": raw values.
 */
export function resolveChannels(m: TraitReader): ChannelSource | null {
  const key = mapKey(m.get("method"), m.get("reduction"), m.get("reduction_methods") ?? []);
  const held = m.get("precomputed") ? precomputedHeld(m, key) : kernelHeld(m);
  if (!held) return null;
  const { key: heldKey, unit, scale, C, T, index, used } = held;
  const norm = m.get("norm");
  const sr = m.get("precomputed") ? m.get("cube_meta")?.scale_range : m.get("value_range");
  const range: [number, number] = Array.isArray(sr) && sr.length === 2 ? [Number(sr[0]), Number(sr[1])] : [0, 1];
  const all = extentOfScales(used, scale);
  const cache = cacheFor(decodedMaps, heldKey, 256);
  const shares = cacheFor(decodedShares, heldKey, 1 << 17);
  const decode = (j: number, how: string): Float32Array => {
    const tag = `${how}|${j}|${range[0]}|${range[1]}|${all[0]}|${all[1]}`;
    let out = cache.get(tag);
    if (!out) {
      const layer: [number, number] | null = how === "layer" ? all : null;
      out = decodeMap(unit, j * C * T, C * T, scale[2 * j], scale[2 * j + 1], how, range, layer);
      cache.set(tag, out);
    }
    return out;
  };
  const share = (n: number): Float32Array | null => {
    const j = index(n);
    if (j < 0 || Number.isNaN(scale[2 * j])) return null;
    let out = shares.get(String(j));
    if (!out) {
      const lo = scale[2 * j];
      const span = scale[2 * j + 1] - lo;
      const raw = new Float32Array(C * T);
      for (let i = 0; i < C * T; i++) raw[i] = lo + unit(j * C * T + i) * span;
      shares.set(String(j), (out = channelShares(raw, C, T)));
    }
    return out;
  };
  return {
    C,
    T,
    valueRange: norm === "none" ? all : range,
    maps(n) {
      const j = index(n);
      if (j < 0 || Number.isNaN(scale[2 * j])) return null;
      const flat = decode(j, norm === "layer" || norm === "none" ? norm : "sample");
      return Array.from({ length: C }, (_, c) => flat.subarray(c * T, (c + 1) * T));
    },
    share,
    meanShare(samples) {
      const sum = new Float32Array(C);
      let count = 0;
      for (const n of samples) {
        const s = share(n);
        if (!s) continue;
        for (let c = 0; c < C; c++) sum[c] += s[c];
        count++;
      }
      if (!count) return null;
      for (let c = 0; c < C; c++) sum[c] /= count;
      return { share: sum, count };
    },
  };
}
