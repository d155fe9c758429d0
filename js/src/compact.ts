// Compact maps (tscam_widget/widget/compact.py, same arithmetic): a map travels as unit values
// u (uint8 q/255, float16 or float32) and its range (lo, hi). The value is lo + u (hi - lo);
// norm "sample" is a + u (b - a); norm "layer" min-max scales the value with the layer's range
// over all samples, (min lo, max hi). NaN lo: the whole map is NaN.
import type { NumArray } from "./buffers";

let half: Float32Array | null = null;
/** IEEE half bits -> float32, via a table of all 65536 values (built once). */
export function halfTable(): Float32Array {
  if (half) return half;
  half = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    half[h] = e === 0 ? s * f * 2 ** -24 : e === 31 ? (f ? NaN : s * Infinity) : s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return half;
}

/** Unit value i of stored `u` (dtype of the trait). */
export function unitReader(dtype: string, u: NumArray): (i: number) => number {
  if (dtype === "uint8") return (i) => u[i] / 255;
  if (dtype === "float16") {
    const t = halfTable();
    return (i) => t[u[i]];
  }
  return (i) => u[i];
}

const EPS = 1e-12;
function flat(lo: number, hi: number): boolean {
  return !(hi - lo > EPS * Math.max(1, Math.abs(hi), Math.abs(lo)));
}

/**
 * Decode one map of T values starting at `offset` under `norm`. `lo, hi`: the map's range;
 * `range`: the scale range (a, b); `layer`: the layer's [lo, hi] for norm "layer".
 */
export function decodeMap(
  unit: (i: number) => number, offset: number, T: number, lo: number, hi: number,
  norm: string, range: [number, number], layer: [number, number] | null,
): Float32Array {
  const out = new Float32Array(T);
  if (Number.isNaN(lo)) return out.fill(NaN);
  const [a, b] = range;
  if (norm === "sample") {
    for (let t = 0; t < T; t++) out[t] = a + unit(offset + t) * (b - a);
    return out;
  }
  const span = hi - lo;
  if (norm === "layer" && layer) {
    const [llo, lhi] = layer;
    const f = flat(llo, lhi);
    for (let t = 0; t < T; t++) {
      const x = Math.fround(lo + unit(offset + t) * span); // the float32 value, as Python has it
      out[t] = f ? a : a + ((x - llo) / (lhi - llo)) * (b - a);
    }
    return out;
  }
  for (let t = 0; t < T; t++) out[t] = lo + unit(offset + t) * span;
  return out;
}
