// The trait map of CamWidget (docs/protocol.md), as the frontend sees it.

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
}

export interface CamTraits {
  // controls
  layer: number;
  method: string;
  reduction: string;
  sample: number;
  target: string | number;
  cmap: string;
  norm: string;
  view: string;
  view_count: number;
  mark: string; // "line" | "scatter" (not `style`: ipywidgets reads that as a Style widget)
  linewidth: number;
  linestyle: string;
  alpha: number;
  playing: boolean;
  play_interval_ms: number;
  options: Record<string, [string, string][]>; // menus: control -> [value, label][] (widget/options.py)
  request_id: number;
  series_view: string; // "data" | "input"
  // the sample menu (samples.ts)
  sample_filter: string; // "all" | "mistakes" | "correct"
  filter_true: number; // class index, -1 any
  filter_pred: number;
  sample_sort: string; // "index" | "confidence" | "-confidence"
  // information
  layers: string[];
  methods: string[];
  method_labels: Record<string, string>;
  reductions: string[];
  reduction_methods: string[];
  classes: string[];
  cmaps: string[];
  cmap_table: Packed | null;
  n_samples: number;
  sample_ids: Packed | null;
  series: Packed | null;
  input_series: Packed | null;
  series_samples: Packed | null; // samples whose series `series` holds (empty: all, in order)
  layer_layouts: string[];
  y_true: Packed | null;
  y_pred: Packed | null;
  probs: Packed | null;
  targets: Packed | null;
  precomputed: boolean;
  target_methods: string[];
  precision: string; // "uint8" | "float16" | "float32": how maps travel (hover values are quantised)
  cube: Packed | null; // unit values [R, L, M, T], one row per (sample, class) explained
  cube_scale: Packed | null; // float32 [R, L, M, 2]: each map's (lo, hi)
  cube_rows: Packed | null; // int32 [N, K]: row of sample n explained for class k, -1 if absent
  cube_keys: string[];
  cube_meta: { scale_range?: number[] } | null;
  maps: Packed | null; // unit values [S, L, T]
  maps_scale: Packed | null; // float32 [S, L, 2]
  maps_meta: MapsMeta | null;
  value_range: number[];
  status: string;
  error: string;
  // the training timeline (timeline.ts; TEMPORARY until protocol.gen.ts has it)
  epoch: number; // control: -1 the current weights, else a snapshot's index
  timeline_meta: { labels?: string[]; metrics?: Record<string, number>[]; keys?: string[]; levels?: number } | null;
  timeline_samples: Packed[]; // per snapshot int32 [S]
  timeline_maps: Packed[]; // per snapshot uint8 [S, L, M', T]
  timeline_scale: Packed[]; // per snapshot float32 [S, L, M', 2]
  timeline_probs: Packed[]; // per snapshot float32 [N, K]
  /** set by the offline page's host (not a trait): no kernel will answer */
  offline?: boolean;
  /** the offline page only: every colour table of the menu, channel-planar [n, 4, 256] */
  cmap_tables?: { names: string[]; planar: Packed };
}

/** What the glue code needs of a model: reading traits (a fake one in tests). */
export interface TraitReader {
  get<K extends keyof CamTraits>(key: K): CamTraits[K];
}
