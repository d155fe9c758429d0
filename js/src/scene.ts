// What to draw, assembled from the traits: samples with their channels and current-layer map.
import { memo } from "./memo";
import { resolveChannels } from "./channels";
import { decodeCached } from "./buffers";
import { viewSamples } from "./layout";
import { currentList, isFiltered, queryOf } from "./samples";
import { resolveMaps, type MapSource } from "./state";
import { methodTitle, sampleTitle, type SampleLabel } from "./title";
import type { TraitReader } from "./types";

export interface SceneSample {
  n: number; // position in the widget's sample set
  id: number; // index in the user's data
  label: SampleLabel;
  title: string; // "[true: .. | pred: .. (0.97)]"
  channels: Float32Array[]; // C views of length T
  map: Float32Array | null; // the current layer's map (null: not there yet)
  /** the input layer's maps per channel (C views [T], drawn instead of `map`); null: none */
  channelMaps: Float32Array[] | null;
  /** its share of |attribution| per channel [C] (the channel bar); null: none */
  share: Float32Array | null;
}

export interface Scene {
  view: "single" | "grid" | "overlay";
  samples: SceneSample[];
  C: number;
  T: number;
  title: string; // method - reduction - layer
  valueRange: [number, number];
  /** maps of every layer for the first sample (the layer strip); null when absent */
  strip: (Float32Array | null)[] | null;
  /** norm "none": each strip row's own colour range (its layer's); null: valueRange for all */
  stripRanges: [number, number][] | null;
  layer: number;
  layerNames: string[];
  /** each channel panel coloured by its own map (the input layer of a method with maps per channel) */
  perChannel: boolean;
  /** the mean channel share over the samples listed (the sample menu's), and over how many */
  meanShare: { share: Float32Array; count: number } | null;
  /** several channels but one map for all of them: why (status line); "" otherwise */
  channelNote: string;
}

function at(arr: ArrayLike<number> | undefined, i: number, fallback: number): number {
  return arr && i >= 0 && i < arr.length ? arr[i] : fallback;
}

/** The value range of the colour bar: `value_range`, else the finite extent of the maps. */
function rangeOf(m: TraitReader, maps: (Float32Array | null)[]): [number, number] {
  const vr = m.get("value_range");
  if (Array.isArray(vr) && vr.length === 2 && Number.isFinite(vr[0]) && Number.isFinite(vr[1])) return [vr[0], vr[1]];
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of maps) if (a) for (const v of a) if (!Number.isNaN(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return Number.isFinite(lo) ? [lo, hi] : [0, 1];
}

/**
 * Build the scene for the current controls. With `ready == false` the maps do not match
 * the controls yet (kernel mode): the caller keeps its last scene and says "computing...".
 */
/** The series drawn: the user's data, or the model's input where it differs and is asked for. */
export function drawnSeries(m: TraitReader): ReturnType<typeof decodeCached> {
  const input = m.get("series_view") === "input" ? decodeCached(m.get("input_series")) : null;
  return input && input.shape.length === 3 && input.shape[0] > 0 ? input : decodeCached(m.get("series"));
}

/**
 * The row of `series` that holds sample n: n itself, or (a large data set, whose series travel
 * for the visible samples only) its position in `series_samples`; -1 when not there yet.
 */
export function seriesRow(m: TraitReader, n: number): number {
  const held = decodeCached(m.get("series_samples"))?.data;
  if (!held || held.length === 0) return n;
  return memo(held, `row:${n}`, () => Array.prototype.indexOf.call(held, n));
}

export function buildScene(m: TraitReader): { scene: Scene | null; ready: boolean; why: string } {
  const series = drawnSeries(m);
  if (!series || series.shape.length !== 3 || series.shape[0] === 0) return { scene: null, ready: false, why: "no data" };
  const [, C, T] = series.shape;
  const N = m.get("n_samples") || series.shape[0];
  const nSamples = N;
  const view = (["single", "grid", "overlay"].includes(m.get("view")) ? m.get("view") : "single") as Scene["view"];
  const listed = isFiltered(queryOf(m)) ? currentList(m) : null;
  const idx = viewSamples(view, m.get("sample"), m.get("view_count"), nSamples, listed);
  const res = resolveMaps(m, idx);
  const source: MapSource | null = res.ready ? res.source : null;
  const layers = m.get("layers") ?? [];
  const layer = Math.min(Math.max(0, m.get("layer") | 0), Math.max(0, layers.length - 1));
  const ids = decodeCached(m.get("sample_ids"))?.data;
  const yTrue = decodeCached(m.get("y_true_buffer"))?.data;
  const yPred = decodeCached(m.get("y_pred_buffer"))?.data;
  const probs = decodeCached(m.get("probs_buffer"));
  const K = probs && probs.shape.length === 2 ? probs.shape[1] : 0;
  const classes = m.get("classes") ?? [];
  const sData = series.data as Float32Array;
  const rows = idx.map((n) => seriesRow(m, n));
  const layerName = String(layers[layer] ?? "");
  const chans = C > 1 && layerName === "input" && res.ready ? resolveChannels(m) : null;
  if (rows.some((r) => r < 0)) return { scene: null, ready: false, why: "loading series" };
  const samples: SceneSample[] = idx.map((n, i) => {
    const pred = at(yPred, n, -1);
    const label: SampleLabel = {
      trueClass: at(yTrue, n, -1),
      predClass: pred,
      prob: probs && pred >= 0 && pred < K ? probs.data[n * K + pred] : NaN,
    };
    return {
      n,
      id: at(ids, n, n),
      label,
      title: sampleTitle(classes, label),
      channels: Array.from({ length: C }, (_, c) => sData.subarray((rows[i] * C + c) * T, (rows[i] * C + c + 1) * T)),
      map: source ? source.map(n, layer) : null,
      channelMaps: chans ? chans.maps(n) : null,
      share: chans ? chans.share(n) : null,
    };
  });
  const perChannel = samples.some((s) => s.channelMaps);
  const methodLabel = (m.get("method_labels") ?? {})[m.get("method")] ?? m.get("method");
  const channelNote = C < 2 || perChannel || !res.ready
    ? ""
    : layerName !== "input"
      ? `one map for all ${C} channels: layer ${layerName} mixes them (maps per channel on the input layer)`
      : `${methodLabel} has no map per channel: one map for all ${C} channels`;
  const strip = source ? Array.from({ length: source.L }, (_, l) => source.map(idx[0], l)) : null;
  const title = methodTitle({
    method: m.get("method"),
    methodLabels: m.get("method_labels") ?? {},
    reduction: m.get("reduction"),
    reductionMethods: m.get("reduction_methods") ?? [],
    layerName: layers[layer] ?? String(layer),
    target: m.get("target"),
    classes,
    targetMethods: m.get("target_methods") ?? undefined,
  });
  const scene: Scene = {
    view,
    samples,
    C,
    T,
    title,
    valueRange: perChannel && chans
      ? chans.valueRange
      : res.ready && res.valueRange ? res.valueRange : rangeOf(m, samples.map((s) => s.map)),
    strip,
    stripRanges: strip && res.ready && res.layerRange ? strip.map((_, l) => res.layerRange!(l)) : null,
    layer,
    layerNames: layers,
    perChannel,
    meanShare: perChannel && chans ? chans.meanShare(listed ?? Array.from({ length: N }, (_, n) => n)) : null,
    channelNote,
  };
  return { scene, ready: res.ready, why: res.ready ? "" : res.why };
}

/** True when a map exists but holds no finite value (method undefined for the layer). */
export function isNanMap(map: Float32Array | null): boolean {
  if (!map || map.length === 0) return false;
  return memo(map, "allnan", () => {
    for (let i = 0; i < map.length; i++) if (map[i] === map[i]) return false;
    return true;
  });
}
