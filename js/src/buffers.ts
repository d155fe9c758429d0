// Decoding of {dtype, shape, data} buffers sent by Python (mind the DataView's byteOffset).
import { unzlibSync } from "fflate";
import type { Packed } from "./types";

export type NumArray = Float32Array | Int32Array | Uint8Array | Uint16Array;

export interface Decoded<A extends NumArray = NumArray> {
  dtype: Packed["dtype"];
  shape: number[];
  data: A;
}

// float16 stays as its raw bits (Uint16Array); compact.ts reads them through a table
const CTORS = { float32: Float32Array, float16: Uint16Array, int32: Int32Array, uint8: Uint8Array } as const;

function bytesOf(data: Packed["data"]): { buffer: ArrayBufferLike; offset: number; length: number } {
  if (data == null) return { buffer: new ArrayBuffer(0), offset: 0, length: 0 };
  if (data instanceof ArrayBuffer) return { buffer: data, offset: 0, length: data.byteLength };
  // DataView or any typed array: honour its window into the shared buffer.
  const view = data as ArrayBufferView;
  return { buffer: view.buffer, offset: view.byteOffset, length: view.byteLength };
}

/** Undo a delta coding in place: each byte plus the previous one (mod 256) within runs of `run`. */
export function undelta(bytes: Uint8Array, run: number): Uint8Array {
  if (run > 1) {
    for (let s = 0; s < bytes.length; s += run) {
      const end = Math.min(bytes.length, s + run);
      for (let i = s + 1; i < end; i++) bytes[i] = (bytes[i] + bytes[i - 1]) & 255;
    }
  }
  return bytes;
}

/** The plain bytes of a deflated trait (`z: "deflate"`, optionally delta-coded). */
function inflated(obj: Packed): Uint8Array {
  const { buffer, offset, length } = bytesOf(obj.data);
  return undelta(unzlibSync(new Uint8Array(buffer as ArrayBuffer, offset, length)), obj.delta ?? 0);
}

/** Decode a packed array; null for a missing trait. Throws on a size mismatch. */
export function decode(obj: Packed | null | undefined): Decoded | null {
  if (obj == null || typeof obj !== "object" || !("dtype" in obj)) return null;
  const Ctor = CTORS[obj.dtype];
  if (!Ctor) throw new Error(`unsupported dtype ${String(obj.dtype)}`);
  const shape = (obj.shape ?? []).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  if (obj.z != null && obj.z !== "deflate") throw new Error(`unsupported compression ${String(obj.z)}`);
  const { buffer, offset, length } = obj.z ? bytesOf(inflated(obj)) : bytesOf(obj.data);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (length !== count * size) {
    throw new Error(`buffer of ${length} bytes does not hold ${obj.dtype}[${shape.join(", ")}]`);
  }
  let data: NumArray;
  if (offset % size === 0) {
    data = new Ctor(buffer as ArrayBuffer, offset, count);
  } else {
    // Unaligned window (typed arrays need aligned offsets): copy the bytes once.
    const copy = new Uint8Array(length);
    copy.set(new Uint8Array(buffer as ArrayBuffer, offset, length));
    data = new Ctor(copy.buffer, 0, count);
  }
  return { dtype: obj.dtype, shape, data };
}

const cache = new WeakMap<object, Decoded | null>();

/** decode(), memoised on the trait object's identity (traits are replaced, never mutated). */
export function decodeCached(obj: Packed | null | undefined): Decoded | null {
  if (obj == null || typeof obj !== "object") return null;
  if (!cache.has(obj)) cache.set(obj, decode(obj));
  return cache.get(obj) ?? null;
}
