// Min-max decimation of a long series before drawing (about two points per bucket).

export interface Decimated {
  /** time index of each kept point (fractional never: these are original indices) */
  x: Float64Array;
  y: Float32Array;
  /** colour value of each kept point: the bucket's maximum CAM (NaN when all NaN) */
  cam: Float32Array;
}

/**
 * Keep, for each of nBuckets equal time buckets, the points holding the bucket's minimum
 * and maximum (in time order), so the series' extremes survive; both get the bucket's
 * maximum CAM, so a narrow peak never vanishes. Series no longer than 2 * nBuckets are
 * returned unchanged. A bucket of only NaN values becomes one NaN point (a gap).
 */
export function decimate(
  series: ArrayLike<number>,
  cam: ArrayLike<number> | null,
  nBuckets: number,
): Decimated {
  const T = series.length;
  const n = Math.max(1, Math.floor(nBuckets));
  const camAt = (i: number) => (cam ? cam[i] : NaN);
  if (T <= 2 * n) {
    const x = new Float64Array(T);
    const y = new Float32Array(T);
    const c = new Float32Array(T);
    for (let i = 0; i < T; i++) {
      x[i] = i;
      y[i] = series[i];
      c[i] = camAt(i);
    }
    return { x, y, cam: c };
  }
  const xs = new Float64Array(2 * n);
  const ys = new Float32Array(2 * n);
  const cs = new Float32Array(2 * n);
  let k = 0;
  for (let b = 0; b < n; b++) {
    const i0 = Math.floor((b * T) / n);
    const i1 = Math.floor(((b + 1) * T) / n);
    let iMin = -1;
    let iMax = -1;
    let cMax = NaN;
    for (let i = i0; i < i1; i++) {
      const v = series[i];
      if (!Number.isNaN(v)) {
        if (iMin < 0 || v < series[iMin]) iMin = i;
        if (iMax < 0 || v > series[iMax]) iMax = i;
      }
      const c = camAt(i);
      if (!Number.isNaN(c) && !(c <= cMax)) cMax = c;
    }
    const put = (i: number) => {
      xs[k] = i;
      ys[k] = series[i];
      cs[k] = cMax;
      k++;
    };
    if (iMin < 0) {
      put(i0);
      continue;
    }
    if (iMin === iMax) put(iMin);
    else if (iMin < iMax) {
      put(iMin);
      put(iMax);
    } else {
      put(iMax);
      put(iMin);
    }
  }
  return { x: xs.slice(0, k), y: ys.slice(0, k), cam: cs.slice(0, k) };
}
