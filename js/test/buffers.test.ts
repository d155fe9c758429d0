import { describe, expect, it } from "vitest";
import { decode, decodeCached } from "../src/buffers";

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
