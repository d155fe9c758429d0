import { describe, expect, it } from "vitest";
import { bucketMaxCached, decimate, decimateCached } from "../src/decimate";
import { columnMax } from "../src/strip";

describe("decimate", () => {
  it("keeps each bucket's min and max in time order, coloured by the bucket's max CAM", () => {
    const y = [0, 5, 1, 2, 9, 3, 4, 4];
    const cam = [0.1, 0.2, 0.9, 0.3, 0, 0, 0.5, 0.4];
    const d = decimate(y, cam, 2); // buckets [0..3], [4..7]
    expect(Array.from(d.x)).toEqual([0, 1, 4, 5]);
    expect(Array.from(d.y)).toEqual([0, 5, 9, 3]);
    expect(Array.from(d.cam)).toEqual([0.9, 0.9, 0.5, 0.5].map(Math.fround));
  });

  it("is the identity for series up to two points per bucket", () => {
    const d = decimate([3, 1, 2], [0.5, NaN, 1], 2);
    expect(Array.from(d.x)).toEqual([0, 1, 2]);
    expect(Array.from(d.y)).toEqual([3, 1, 2]);
    expect(d.cam[0]).toBe(0.5);
    expect(Number.isNaN(d.cam[1])).toBe(true);
  });

  it("preserves the global extremes and a one-step CAM peak of a long series", () => {
    const T = 10000;
    const y = Array.from({ length: T }, (_, i) => Math.sin(i / 50));
    y[7777] = 42; // spike
    y[1234] = -42;
    const cam = new Float32Array(T).fill(0.1);
    cam[4321] = 0.97; // a one-step peak
    const d = decimate(y, cam, 100);
    expect(d.x.length).toBeLessThanOrEqual(200);
    expect(d.x.length).toBeGreaterThanOrEqual(190);
    expect(Math.max(...d.y)).toBe(42);
    expect(Math.min(...d.y)).toBe(-42);
    // bucket 43 covers 4300..4399: both its points carry the peak
    const inBucket = Array.from(d.x).map((x, i) => [x, d.cam[i]]).filter(([x]) => x >= 4300 && x < 4400);
    expect(inBucket.length).toBe(2);
    expect(inBucket.every(([, c]) => c === Math.fround(0.97))).toBe(true);
    // every bucket keeps its own max CAM
    const others = Array.from(d.x).map((x, i) => [x, d.cam[i]]).filter(([x]) => x < 4300 || x >= 4400);
    expect(others.every(([, c]) => c === Math.fround(0.1))).toBe(true);
    // x strictly increasing
    for (let i = 1; i < d.x.length; i++) expect(d.x[i]).toBeGreaterThan(d.x[i - 1]);
  });

  it("turns an all-NaN bucket into one NaN point (a gap) and ignores NaN elsewhere", () => {
    const y = [NaN, NaN, NaN, 1, NaN, 5, 4, 2, 3];
    const d = decimate(y, null, 3); // buckets [0..2], [3..5], [6..8]
    expect(Array.from(d.x)).toEqual([0, 3, 5, 6, 7]);
    expect(Number.isNaN(d.y[0])).toBe(true);
    expect(Array.from(d.y).slice(1)).toEqual([1, 5, 4, 2]);
    expect(Array.from(d.cam).every(Number.isNaN)).toBe(true);
  });

  it("caches colours per (map, width, series): a redraw allocates nothing and matches decimate()", () => {
    const T = 5000;
    const y = new Float32Array(T).map((_, i) => Math.sin(i / 30) + (i % 7) * 0.01);
    const cam = new Float32Array(T).map((_, i) => (i % 97) / 97);
    const a = decimateCached(y, cam, 300);
    const b = decimateCached(y, cam, 300);
    expect(b.cam).toBe(a.cam);
    expect(b.x).toBe(a.x);
    const ref = decimate(y, cam, 300);
    expect(Array.from(a.cam)).toEqual(Array.from(ref.cam));
    expect(Array.from(a.x)).toEqual(Array.from(ref.x));
    expect(decimateCached(y, null, 300).cam).toBe(decimateCached(y, null, 300).cam);
  });

  it("shares the layer strip's column maxima with the plot's bucket maxima", () => {
    const T = 1003;
    const cam = new Float32Array(T).map((_, i) => ((i * 37) % 101) / 101);
    cam[500] = NaN;
    for (const cols of [1, 7, 250, 1003]) {
      expect(Array.from(bucketMaxCached(cam, cols))).toEqual(Array.from(columnMax(cam, cols)));
    }
  });
});
