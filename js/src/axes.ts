// "Nice" axis ticks (1, 2, 2.5, 5 x 10^k steps) and their labels.

const MANTISSAS = [1, 2, 2.5, 5, 10];

/** The smallest nice step >= raw. */
export function niceStep(raw: number): number {
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of MANTISSAS) {
    if (m * p >= raw * (1 - 1e-9)) return m * p;
  }
  return 10 * p;
}

function decimalsOf(step: number): number {
  for (let d = 0; d < 12; d++) {
    if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  }
  return 12;
}

/**
 * Ticks at multiples of a nice step inside [lo, hi] (endpoints included when they are
 * multiples), at most maxTicks of them. 0..150 with 7 -> 0, 25, ..., 150; with 4 ->
 * 0, 50, 100, 150.
 */
export function niceTicks(lo: number, hi: number, maxTicks = 6): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const m = Math.max(2, Math.floor(maxTicks));
  let step = niceStep((hi - lo) / m);
  let first = Math.ceil(lo / step - 1e-9);
  let last = Math.floor(hi / step + 1e-9);
  while (last - first + 1 > m) {
    step = niceStep(step * 1.0001);
    first = Math.ceil(lo / step - 1e-9);
    last = Math.floor(hi / step + 1e-9);
  }
  const d = decimalsOf(step);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toFixed(d)) + 0);
  return ticks;
}

/** Label for a tick, with as many decimals as the step needs ("-0" never appears). */
export function formatTick(v: number, ticks: number[]): string {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : Math.abs(v) || 1;
  const d = Math.min(6, decimalsOf(step));
  const s = v.toFixed(d);
  return s === `-${(0).toFixed(d)}` ? (0).toFixed(d) : s;
}

/** Short label for a free value (colour bar ends, tooltip): 3 significant digits. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}
