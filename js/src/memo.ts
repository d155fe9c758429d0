// Per-array memo: results derived from a (sub)array of a trait buffer, keyed by the buffer, the
// window (offset, length) and a tag. Trait buffers are replaced, never mutated, so an entry is
// valid as long as its buffer lives (WeakMap); each buffer keeps at most MAX entries.

const MAX = 4096;
const store = new WeakMap<ArrayBufferLike, Map<string, unknown>>();

export function memo<R>(a: ArrayBufferView, tag: string, compute: () => R): R {
  let m = store.get(a.buffer);
  if (!m) store.set(a.buffer, (m = new Map()));
  const key = `${tag}|${a.byteOffset}|${a.byteLength}`;
  if (m.has(key)) return m.get(key) as R;
  const r = compute();
  if (m.size >= MAX) m.clear();
  m.set(key, r);
  return r;
}
