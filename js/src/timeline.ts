// The training timeline (tscam_widget/widget/timeline.py): snapshots of the maps of some samples
// and of every sample's probabilities, recorded during training. The epoch slider picks one
// (`epoch`, -1: the current weights); the map views then read the snapshot through a reader that
// presents it as a precomputed cube for the class predicted at that moment.
import { decodeCached } from "./buffers";
import { memo } from "./memo";
import { mapKey } from "./state";
import type { CamTraits, Packed, TraitReader } from "./types";

export interface TimelineMeta {
  labels?: string[];
  metrics?: Record<string, number>[];
  keys?: string[]; // map keys of the snapshots (cube_keys style)
  levels?: number;
}

/** Snapshots fully there: as many as every list holds. */
export function snapshotCount(m: TraitReader): number {
  const meta = (m.get("timeline_meta") ?? {}) as TimelineMeta;
  const lists = [meta.labels, m.get("timeline_samples"), m.get("timeline_maps"), m.get("timeline_scale"), m.get("timeline_probs")];
  return Math.min(...lists.map((l) => (Array.isArray(l) ? l.length : 0)));
}

/** The snapshot drawn: `epoch` when it names one that is there, else -1 (the current weights). */
export function currentSnapshot(m: TraitReader): number {
  const e = Number(m.get("epoch") ?? -1);
  return Number.isInteger(e) && e >= 0 && e < snapshotCount(m) ? e : -1;
}

/** The slider runs 0..E with "now" at its right end (position E); the trait says -1 there. */
export function sliderPosition(epoch: number, count: number): number {
  return epoch >= 0 && epoch < count ? epoch : count;
}

export function epochOf(position: number, count: number): number {
  return position >= 0 && position < count ? position : -1;
}

/** "valid_loss 0.312 · accuracy 0.953" */
export function metricsText(metrics: Record<string, number> | undefined): string {
  return Object.entries(metrics ?? {})
    .filter(([, v]) => Number.isFinite(v))
    .map(([k, v]) => `${k} ${Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.001) ? v.toExponential(2) : v.toFixed(3)}`)
    .join(" · ");
}

export interface SnapshotView {
  index: number;
  label: string;
  metrics: Record<string, number>;
  samples: Int32Array; // widget samples with maps
  keys: string[];
  /** the reader the map views use: the snapshot as a precomputed cube, target "pred" */
  reader: TraitReader;
  has(n: number): boolean;
}

interface Derived {
  samples: Int32Array;
  rows: Packed; // int32 [N, K]: row of sample n for its predicted class then, -1 elsewhere
  pred: Packed; // int32 [N]
}

/** Per snapshot (its `timeline_probs` value): the predicted classes and the cube rows. */
function derived(samplesObj: Packed, probsObj: Packed, N: number): Derived | null {
  const samples = decodeCached(samplesObj);
  const probs = decodeCached(probsObj);
  if (!samples || !probs || probs.shape.length !== 2) return null;
  return memo(probs.data, `timeline:${N}`, () => {
    const [P, K] = probs.shape;
    const pred = new Int32Array(N).fill(-1);
    for (let n = 0; n < Math.min(N, P); n++) {
      let best = -1;
      let bv = -Infinity;
      for (let k = 0; k < K; k++) {
        const v = probs.data[n * K + k];
        if (v > bv) { bv = v; best = k; } // NaN never compares greater: a NaN row stays -1
      }
      pred[n] = best;
    }
    const rows = new Int32Array(N * K).fill(-1);
    const s = samples.data as Int32Array;
    for (let r = 0; r < s.length; r++) {
      const n = s[r];
      if (n >= 0 && n < N && pred[n] >= 0) rows[n * K + pred[n]] = r;
    }
    return {
      samples: s,
      rows: { dtype: "int32", shape: [N, K], data: rows },
      pred: { dtype: "int32", shape: [N], data: pred },
    };
  });
}

/** The snapshot `i` (null when it is not there or not decodable). */
export function snapshotAt(m: TraitReader, i: number): SnapshotView | null {
  if (!(i >= 0 && i < snapshotCount(m))) return null;
  const meta = (m.get("timeline_meta") ?? {}) as TimelineMeta;
  const maps = m.get("timeline_maps")[i];
  const probs = m.get("timeline_probs")[i];
  const N = m.get("n_samples") || (decodeCached(probs)?.shape[0] ?? 0);
  const d = derived(m.get("timeline_samples")[i], probs, N);
  if (!d) return null;
  const keys = meta.keys ?? [];
  const over: Partial<Record<keyof CamTraits, unknown>> = {
    precomputed: true,
    channel_keys: [], // the current weights' maps per channel never join a snapshot's picture
    cube: maps,
    cube_scale: m.get("timeline_scale")[i],
    cube_rows: d.rows,
    cube_keys: keys,
    y_pred_buffer: d.pred,
    probs_buffer: probs,
    target: "pred", // a snapshot holds the maps of the class predicted then
    // norm "none": the colour bar spans the snapshot's maps (the cube's extent), not today's
    value_range: m.get("norm") === "none" ? [] : m.get("value_range"),
  };
  const set = new Set(d.samples);
  return {
    index: i,
    label: meta.labels?.[i] ?? `snapshot ${i + 1}`,
    metrics: meta.metrics?.[i] ?? {},
    samples: d.samples,
    keys,
    reader: { get: (k) => (k in over ? over[k] : m.get(k)) as never },
    has: (n) => set.has(n),
  };
}

/** What the status line says over a snapshot's picture: its label and metrics, the samples it
 * does not hold, a method it does not hold. */
export function snapshotNotes(m: TraitReader, snap: SnapshotView, shown: number[]): string[] {
  const count = snapshotCount(m);
  const metrics = metricsText(snap.metrics);
  const notes = [`${snap.label} (${snap.index + 1}/${count})${metrics ? `: ${metrics}` : ""}`];
  const key = mapKey(m.get("method"), m.get("reduction"), m.get("reduction_methods") ?? []);
  if (!snap.keys.includes(key)) {
    const label = (m.get("method_labels") ?? {})[m.get("method")] ?? m.get("method");
    notes.push(`${key.includes("/") ? `${label} (${m.get("reduction")})` : label} not recorded in the snapshots (they hold ${snap.keys.join(", ")})`);
  }
  const ids = decodeCached(m.get("sample_ids"))?.data;
  const missing = shown.filter((n) => !snap.has(n)).map((n) => `#${ids && n < ids.length ? ids[n] : n}`);
  if (missing.length) notes.push(`sample ${missing.join(", ")} not recorded in ${snap.label}`);
  const t = m.get("target");
  if (t !== "pred") notes.push(`maps for the class predicted at ${snap.label} (target ${String(t)} is not recorded)`);
  return notes;
}

