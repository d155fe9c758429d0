// Types of the trait values (docs/protocol.md); the trait map itself, CamTraits, is generated
// from tscam_widget/widget/protocol.py into protocol.gen.ts.

/** A numeric array as it travels: dtype + shape + a binary buffer. */
export interface Packed {
  dtype: "float32" | "float16" | "int32" | "uint8";
  shape: number[];
  data: DataView | ArrayBuffer | ArrayBufferView | null;
  z?: "deflate" | null; // data is zlib-deflated (buffers.py pack(..., deflate=True))
  delta?: number; // ... after delta-coding (mod 256) along runs of this many bytes
}

export interface MapsMeta {
  request_id?: number;
  samples?: number[];
  method?: string;
  reduction?: string;
  target?: string | number;
  norm?: string;
  channels?: boolean; // channel_maps holds these samples' input maps per channel
}

/** The trust view's `trust_meta` (widget/trust.py `_trust_apply`). */
export interface TrustMeta {
  state?: string; // "off" | "pending" | "computing" | "done" | "failed"
  layers?: string[];
  keys?: string[];
  perturbation?: string;
  steps?: number;
  random_draws?: number;
  samples?: number;
  loc_metric?: string;
  forwards?: number;
  forwards_unshared?: number;
  seconds?: Record<string, number>;
  target?: string | number;
  error?: string;
}

// the traits themselves: generated from tscam_widget/widget/protocol.py
export type { CamTraits, ControlName } from "./protocol.gen";
import type { CamTraits } from "./protocol.gen";

/** What the glue code needs of a model: reading traits (a fake one in tests). */
export interface TraitReader {
  get<K extends keyof CamTraits>(key: K): CamTraits[K];
}
