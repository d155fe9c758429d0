import { describe, expect, it } from "vitest";
import { decode, decodeCached, undelta } from "../src/buffers";

describe("decode", () => {
  it("reads a float32 array through a DataView with a non-zero byteOffset", () => {
    const buf = new ArrayBuffer(64);
    new Float32Array(buf).set([9, 9, 9, 9, 1.5, -2, 3.25, 4, 5, 6, 9, 9], 0);
    const dv = new DataView(buf, 16, 24); // elements 4..9
    const d = decode({ dtype: "float32", shape: [2, 3], data: dv })!;
    expect(d.shape).toEqual([2, 3]);
    expect(d.data).toBeInstanceOf(Float32Array);
    expect(Array.from(d.data)).toEqual([1.5, -2, 3.25, 4, 5, 6]);
    expect(d.data.buffer).toBe(buf); // no copy
  });
  it("reads int32 and uint8, and copies an unaligned window", () => {
    const bytes = new Uint8Array([0, 7, 0, 0, 0, 255, 255, 255, 255]);
    const d = decode({ dtype: "int32", shape: [2], data: new DataView(bytes.buffer, 1, 8) })!;
    expect(Array.from(d.data)).toEqual([7, -1]);
    const u = decode({ dtype: "uint8", shape: [3], data: new DataView(bytes.buffer, 5, 3) })!;
    expect(Array.from(u.data)).toEqual([255, 255, 255]);
  });
  it("decodes an empty array and rejects a size mismatch", () => {
    expect(decode({ dtype: "float32", shape: [0], data: new DataView(new ArrayBuffer(0)) })!.data.length).toBe(0);
    expect(() => decode({ dtype: "float32", shape: [3], data: new DataView(new ArrayBuffer(8)) })).toThrow(/8 bytes/);
    expect(decode(null)).toBeNull();
  });
  it("memoises on the object", () => {
    const o = { dtype: "uint8" as const, shape: [1], data: new Uint8Array([3]) };
    expect(decodeCached(o)).toBe(decodeCached(o));
  });
});

describe("deflated traits", () => {
  // bytes from Python's zlib.compress (the independent encoder; see tests/test_compact.py)
  const zFloats = Uint8Array.from([120, 156, 99, 96, 96, 176, 103, 96, 88, 176, 159, 129, 193, 193, 33, 95, 168, 217, 138, 129, 225, 129, 3, 3, 3, 131, 35, 3, 131, 0, 16, 43, 0, 49, 195, 1, 6, 36, 0, 0, 192, 171, 6, 48]);
  const zDelta = Uint8Array.from([120, 156, 227, 218, 103, 251, 139, 129, 145, 145, 17, 0, 11, 224, 2, 3]);
  const zEight = Uint8Array.from([120, 156, 99, 96, 128, 0, 0, 0, 8, 0, 1]);
  it("inflates a deflated float32 array", () => {
    const d = decode({ dtype: "float32", shape: [3, 4], data: new DataView(zFloats.buffer), z: "deflate" })!;
    expect(d.shape).toEqual([3, 4]);
    expect(Array.from(d.data)).toEqual([0.5, -1.25, 3, Math.fround(1e-3), 7, 8, 9, 10, -2, 0, 0, 0]);
  });
  it("undoes the delta coding row by row (mod 256) after inflating", () => {
    const d = decode({ dtype: "uint8", shape: [2, 4], data: zDelta, z: "deflate", delta: 4 })!;
    expect(Array.from(d.data)).toEqual([10, 200, 5, 255, 0, 1, 2, 3]);
    expect(Array.from(undelta(Uint8Array.from([1, 1, 1, 1]), 2))).toEqual([1, 2, 1, 2]);
  });
  it("rejects an unknown compression and a wrong inflated size", () => {
    expect(() => decode({ dtype: "uint8", shape: [8], data: zEight, z: "gzip" as "deflate" })).toThrow(/compression gzip/);
    expect(() => decode({ dtype: "uint8", shape: [9], data: zEight, z: "deflate" })).toThrow(/8 bytes/);
  });
});
