import { zlibSync } from "fflate";
import { describe, expect, it } from "vitest";
import { buildScene } from "../src/scene";
import {
  currentSnapshot, epochOf, metricsText, sliderPosition, snapshotAt, snapshotCount, snapshotNotes,
} from "../src/timeline";
import type { CamTraits, Packed, TraitReader } from "../src/types";

function f32(shape: number[], values: number[]): Packed {
  return { dtype: "float32", shape, data: new DataView(new Float32Array(values).buffer) };
}
function i32(shape: number[], values: number[]): Packed {
  return { dtype: "int32", shape, data: new DataView(new Int32Array(values).buffer) };
}
/** uint8 as buffers.pack(..., deflate=True) sends it: delta along the last axis, then zlib. */
function deflatedU8(shape: number[], values: number[]): Packed {
  const run = shape[shape.length - 1];
  const d = Uint8Array.from(values);
  for (let s = 0; s < d.length; s += run) for (let i = s + run - 1; i > s; i--) d[i] = (d[i] - d[i - 1]) & 255;
  const z = zlibSync(d);
  return { dtype: "uint8", shape, data: new DataView(z.buffer, z.byteOffset, z.byteLength), z: "deflate", delta: run };
}

// N=3 samples, K=2 classes, L=2 layers, keys ["activation/mean", "gradcam"], T=4.
// Snapshot e holds samples [0, 2]; its map of (row s, layer l, key k) has unit values
// [0, 1/3, 2/3, 1] (q = 0, 85, 170, 255) and range lo = 100e + 10s + 2l + k, hi = lo + 3, so
// its value at time t (norm "none") is exactly lo + t.
const T = 4;
function snapshotMaps(e: number): { maps: Packed; scale: Packed } {
  const q: number[] = [];
  const sc: number[] = [];
  for (let s = 0; s < 2; s++) for (let l = 0; l < 2; l++) for (let k = 0; k < 2; k++) {
    q.push(0, 85, 170, 255);
    const lo = 100 * e + 10 * s + 2 * l + k;
    sc.push(lo, lo + 3);
  }
  return { maps: deflatedU8([2, 2, 2, T], q), scale: f32([2, 2, 2, 2], sc) };
}
const s0 = snapshotMaps(0);
const s1 = snapshotMaps(1);

function model(over: Partial<CamTraits> = {}): TraitReader {
  const t: Partial<CamTraits> = {
    layer: 1, method: "gradcam", reduction: "mean", sample: 2, target: "pred", norm: "none",
    view: "single", view_count: 2, precomputed: false, layers: ["b0", "b1"],
    methods: ["activation", "gradcam"], method_labels: { activation: "CAM", gradcam: "Grad-CAM" },
    reductions: ["mean", "max"], reduction_methods: ["activation"], classes: ["A", "B"], n_samples: 3,
    series: f32([3, 1, T], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]), y_true_buffer: i32([3], [0, 1, 1]),
    y_pred_buffer: i32([3], [0, 0, 0]), probs_buffer: f32([3, 2], [1, 0, 1, 0, 1, 0]), sample_ids: i32([3], [40, 41, 42]),
    value_range: [0, 1], maps_meta: null,
    epoch: 1,
    timeline_meta: { labels: ["epoch 1", "epoch 2"], metrics: [{ accuracy: 0.5 }, { accuracy: 0.875, valid_loss: 0.25 }], keys: ["activation/mean", "gradcam"], levels: 32 },
    timeline_samples: [i32([2], [0, 2]), i32([2], [0, 2])],
    timeline_maps: [s0.maps, s1.maps],
    timeline_scale: [s0.scale, s1.scale],
    // epoch 1: sample 0 -> A (0.8), sample 2 -> B (0.6); epoch 2: sample 0 -> B (0.9), sample 2 -> B (0.95)
    timeline_probs: [f32([3, 2], [0.8, 0.2, 0.3, 0.7, 0.4, 0.6]), f32([3, 2], [0.1, 0.9, 0.2, 0.8, 0.05, 0.95])],
    ...over,
  };
  return { get: (k) => t[k] as never };
}

describe("training timeline", () => {
  it("counts the snapshots fully there and clamps the epoch to them", () => {
    expect(snapshotCount(model())).toBe(2);
    expect(snapshotCount(model({ timeline_probs: [] }))).toBe(0); // a list still arriving
    expect(currentSnapshot(model())).toBe(1);
    expect(currentSnapshot(model({ epoch: -1 }))).toBe(-1);
    expect(currentSnapshot(model({ epoch: 2 }))).toBe(-1);
    expect(snapshotAt(model(), -1)).toBeNull();
  });

  it("puts 'now' at the slider's right end", () => {
    expect(sliderPosition(-1, 3)).toBe(3);
    expect(sliderPosition(1, 3)).toBe(1);
    expect(epochOf(3, 3)).toBe(-1);
    expect(epochOf(0, 3)).toBe(0);
    for (const e of [-1, 0, 1, 2]) expect(epochOf(sliderPosition(e, 3), 3)).toBe(e);
  });

  it("draws the same sample's map at each snapshot, with the prediction of that moment", () => {
    for (const e of [0, 1]) {
      const snap = snapshotAt(model({ epoch: e }), e);
      expect(snap).not.toBeNull();
      const { scene, ready } = buildScene(snap!.reader);
      expect(ready).toBe(true);
      // sample 2 is row 1 of the snapshot; layer 1, key gradcam (1): lo = 100e + 10 + 2 + 1
      const lo = 100 * e + 13;
      expect(Array.from(scene!.samples[0].map!)).toEqual([lo, lo + 1, lo + 2, lo + 3]);
      // the layer strip: every layer of that snapshot
      expect(scene!.strip!.map((m) => m![0])).toEqual([100 * e + 11, 100 * e + 13]);
      expect(scene!.samples[0].title).toBe(e === 0 ? "[true: B | pred: B (0.60)]" : "[true: B | pred: B (0.95)]");
    }
    // sample 0 changes its prediction between the snapshots
    const a = buildScene(snapshotAt(model({ sample: 0 }), 0)!.reader).scene!;
    const b = buildScene(snapshotAt(model({ sample: 0 }), 1)!.reader).scene!;
    expect(a.samples[0].title).toBe("[true: A | pred: A (0.80)]");
    expect(b.samples[0].title).toBe("[true: A | pred: B (0.90)]");
  });

  it("normalises a snapshot's maps like the cube (norm sample)", () => {
    const snap = snapshotAt(model({ norm: "sample", epoch: 0 }), 0)!;
    const { scene } = buildScene(snap.reader);
    const got = Array.from(scene!.samples[0].map!);
    [0, 1 / 3, 2 / 3, 1].forEach((v, i) => expect(got[i]).toBeCloseTo(v, 6));
  });

  it("says what a snapshot does not hold: samples, methods, other targets", () => {
    const m = model({ sample: 1 });
    const snap = snapshotAt(m, 1)!;
    const { scene } = buildScene(snap.reader);
    expect(scene!.samples[0].map).toBeNull();
    const notes = snapshotNotes(m, snap, [1]);
    expect(notes[0]).toBe("epoch 2 (2/2): accuracy 0.875 · valid_loss 0.250");
    expect(notes).toContain("sample #41 not recorded in epoch 2");
    const other = model({ method: "activation", reduction: "max", target: 0 });
    const n2 = snapshotNotes(other, snapshotAt(other, 0)!, [2]);
    expect(n2.some((n) => n.startsWith("CAM (max) not recorded in the snapshots"))).toBe(true);
    expect(n2.some((n) => n.includes("target 0 is not recorded"))).toBe(true);
  });

  it("formats metrics", () => {
    expect(metricsText({ accuracy: 0.93251, loss: 12345.6, tiny: 0.0001, bad: NaN })).toBe(
      "accuracy 0.933 · loss 1.23e+4 · tiny 1.00e-4",
    );
    expect(metricsText(undefined)).toBe("");
  });
});
