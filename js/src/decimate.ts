// Min-max decimation of a long series before drawing (about two points per bucket).
// Split in two so that a layer change only redoes the cheap part: which points a series keeps
// depends on the series and the width only (cached); their colours are the bucket maxima of
// the current map (one pass over the map, cached per map).
import { memo } from "./memo";

export interface Decimated {
  /** time index of each kept point (fractional never: these are original indices) */
  x: Float64Array;
  y: Float32Array;
  /** colour value of each kept point: the bucket's maximum CAM (NaN when all NaN) */
  cam: Float32Array;
}

/** The points a series keeps for nBuckets buckets, without colours. */
export interface DecimationIndex {
  x: Float64Array;
  y: Float32Array;
  /** bucket of each kept point; null: no decimation (point i is time step i) */
  bucket: Int32Array | null;
  /** bucket b covers time steps [bounds[b], bounds[b + 1]) */
  bounds: Int32Array | null;
}

/** Which points of `series` survive min-max decimation into nBuckets buckets (see decimate). */
export function decimationIndex(series: ArrayLike<number>, nBuckets: number): DecimationIndex {
  const T = series.length;
  const n = Math.max(1, Math.floor(nBuckets));
  if (T <= 2 * n) {
    const x = new Float64Array(T);
    const y = new Float32Array(T);
    for (let i = 0; i < T; i++) {
      x[i] = i;
      y[i] = series[i];
    }
    return { x, y, bucket: null, bounds: null };
  }
  const bounds = bucketBounds(T, n);
  const xs = new Float64Array(2 * n);
  const ys = new Float32Array(2 * n);
  const bs = new Int32Array(2 * n);
  let k = 0;
  const put = (i: number, b: number) => {
    xs[k] = i;
    ys[k] = series[i];
    bs[k] = b;
    k++;
  };
  for (let b = 0; b < n; b++) {
    const i0 = bounds[b];
    const i1 = bounds[b + 1];
    let iMin = -1;
    let iMax = -1;
    let vMin = Infinity;
    let vMax = -Infinity;
    for (let i = i0; i < i1; i++) {
      const v = series[i];
      if (v === v) {
        if (iMin < 0 || v < vMin) { iMin = i; vMin = v; }
        if (iMax < 0 || v > vMax) { iMax = i; vMax = v; }
      }
    }
    if (iMin < 0) put(i0, b);
    else if (iMin === iMax) put(iMin, b);
    else if (iMin < iMax) { put(iMin, b); put(iMax, b); }
    else { put(iMax, b); put(iMin, b); }
  }
  return { x: xs.slice(0, k), y: ys.slice(0, k), bucket: bs.slice(0, k), bounds };
}

/** Maximum of `map` over each bucket (NaN where a bucket is all NaN). */
export function bucketMax(map: ArrayLike<number>, bounds: Int32Array): Float32Array {
  const n = bounds.length - 1;
  const out = new Float32Array(n);
  for (let b = 0; b < n; b++) {
    let m = NaN;
    for (let i = bounds[b], e = bounds[b + 1]; i < e; i++) {
      const c = map[i];
      if (c === c && !(c <= m)) m = c;
    }
    out[b] = m;
  }
  return out;
}

/** Colours of the kept points: the bucket maxima of `cam` (NaN everywhere without a map). */
export function decimatedCam(idx: DecimationIndex, cam: ArrayLike<number> | null, bmax?: Float32Array): Float32Array {
  const k = idx.x.length;
  const out = new Float32Array(k);
  if (!cam) return out.fill(NaN);
  if (!idx.bucket || !idx.bounds) {
    for (let i = 0; i < k; i++) out[i] = cam[i];
    return out;
  }
  const bm = bmax ?? bucketMax(cam, idx.bounds);
  for (let i = 0; i < k; i++) out[i] = bm[idx.bucket[i]];
  return out;
}

/**
 * Keep, for each of nBuckets equal time buckets, the points holding the bucket's minimum
 * and maximum (in time order), so the series' extremes survive; both get the bucket's
 * maximum CAM, so a narrow peak never vanishes. Series no longer than 2 * nBuckets are
 * returned unchanged. A bucket of only NaN values becomes one NaN point (a gap).
 */
export function decimate(series: ArrayLike<number>, cam: ArrayLike<number> | null, nBuckets: number): Decimated {
  const idx = decimationIndex(series, nBuckets);
  return { x: idx.x, y: idx.y, cam: decimatedCam(idx, cam) };
}

const boundsCache = new Map<string, Int32Array>();
/** bounds[b] = floor(b T / n): bucket b covers [bounds[b], bounds[b + 1]) (cached per (T, n)). */
export function bucketBounds(T: number, n: number): Int32Array {
  const key = `${T}|${n}`;
  let b = boundsCache.get(key);
  if (!b) {
    b = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) b[i] = Math.floor((i * T) / n);
    if (boundsCache.size > 64) boundsCache.clear();
    boundsCache.set(key, b);
  }
  return b;
}

/**
 * Bucket maxima of `map` over n equal buckets of its length, cached per (map, n). The main
 * plot's colours and the layer strip's columns share it (the strip is as wide as the plot), so
 * a layer the strip has drawn needs no pass over its map when it becomes the current layer.
 */
export function bucketMaxCached(map: Float32Array, n: number): Float32Array {
  return memo(map, `bmax:${n}`, () => bucketMax(map, bucketBounds(map.length, n)));
}

const noCam = new WeakMap<DecimationIndex, Float32Array>();

/**
 * decimate() with every part cached, so a redraw allocates nothing here: the kept points per
 * (series, width), the bucket maxima per (map, width) and the kept points' colours per
 * (map, width, series); a layer change only looks them up.
 */
export function decimateCached(series: Float32Array, cam: Float32Array | null, nBuckets: number): Decimated {
  const n = Math.max(1, Math.floor(nBuckets));
  const idx = memo(series, `dec:${n}`, () => decimationIndex(series, n));
  if (!cam) {
    let none = noCam.get(idx);
    if (!none) noCam.set(idx, (none = decimatedCam(idx, null)));
    return { x: idx.x, y: idx.y, cam: none };
  }
  const perSeries = memo(cam, `dcam:${n}`, () => new WeakMap<DecimationIndex, Float32Array>());
  let colours = perSeries.get(idx);
  if (!colours) {
    const bounds = idx.bounds;
    const bm = bounds ? (cam.length === series.length ? bucketMaxCached(cam, n) : bucketMax(cam, bounds)) : undefined;
    perSeries.set(idx, (colours = decimatedCam(idx, cam, bm)));
  }
  return { x: idx.x, y: idx.y, cam: colours };
}
