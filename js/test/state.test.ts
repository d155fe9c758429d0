import { describe, expect, it } from "vitest";
import { gridShape, viewSamples } from "../src/layout";
import { nextLayer } from "../src/player";
import { buildScene } from "../src/scene";
import { mapKey, resolveMaps, setControls, type TraitWriter } from "../src/state";
import { abbreviate, columnMax, stripLabels } from "../src/strip";
import { quantisation } from "../src/hover";
import { methodTitle, sampleTitle } from "../src/title";
import type { CamTraits, Packed } from "../src/types";

function f32(shape: number[], values: number[]): Packed {
  return { dtype: "float32", shape, data: new DataView(new Float32Array(values).buffer) };
}
function i32(values: number[]): Packed {
  return { dtype: "int32", shape: [values.length], data: new DataView(new Int32Array(values).buffer) };
}

/** A fake model: plain traits, records what was synced. */
function fakeModel(traits: Partial<CamTraits>): TraitWriter & { saved: Partial<CamTraits>[]; t: Partial<CamTraits> } {
  const t: Partial<CamTraits> = { ...traits };
  let pending: Partial<CamTraits> = {};
  const saved: Partial<CamTraits>[] = [];
  return {
    t,
    saved,
    get: (k) => t[k] as never,
    set: (k, v) => {
      t[k] = v;
      pending[k] = v;
    },
    save_changes: () => {
      saved.push(pending);
      pending = {};
    },
  };
}

// R=3 rows (sample 0 for class 0, sample 1 for class 1, sample 1 for class 0), L=2 layers,
// M=2 keys, T=3: unit values [0, 0.5, 1] with range (lo, lo + 2), lo = 1000r + 100l + 10m, so
// the value (norm "none") is 1000r + 100l + 10m + t
const unitValues: number[] = [];
const scaleValues: number[] = [];
for (let r = 0; r < 3; r++) for (let l = 0; l < 2; l++) for (let m = 0; m < 2; m++) {
  unitValues.push(0, 0.5, 1);
  scaleValues.push(1000 * r + 100 * l + 10 * m, 1000 * r + 100 * l + 10 * m + 2);
}
function i32s(shape: number[], values: number[]): Packed {
  return { dtype: "int32", shape, data: new DataView(new Int32Array(values).buffer) };
}

const base: Partial<CamTraits> = {
  layer: 1, method: "activation", reduction: "max", sample: 1, target: "pred", norm: "none",
  view: "single", view_count: 2, request_id: 5, precomputed: true,
  layers: ["blocks.0", "blocks.1"], methods: ["gradcam", "activation"],
  method_labels: { gradcam: "Grad-CAM", activation: "CAM" }, reductions: ["mean", "max"],
  reduction_methods: ["activation"], classes: ["Normal", "Myocardial Infarction"], n_samples: 2,
  series: f32([2, 1, 3], [1, 2, 3, 4, 5, 6]), y_true_buffer: i32([0, 0]), y_pred_buffer: i32([0, 1]),
  probs_buffer: f32([2, 2], [0.9, 0.1, 0.03, 0.97]), sample_ids: i32([10, 11]),
  cube: f32([3, 2, 2, 3], unitValues), cube_scale: f32([3, 2, 2, 2], scaleValues),
  cube_rows: i32s([2, 2], [0, -1, 2, 1]), cube_keys: ["gradcam", "activation/max"],
  cube_meta: { scale_range: [0, 1] }, value_range: [0, 1],
};

describe("map selection", () => {
  it("picks the row of (sample, target class), then [layer, key] in precompute mode", () => {
    expect(mapKey("activation", "max", ["activation"])).toBe("activation/max");
    expect(mapKey("gradcam", "max", ["activation"])).toBe("gradcam");
    const r = resolveMaps(fakeModel(base), [1]);
    expect(r.ready).toBe(true);
    if (r.ready) {
      expect(Array.from(r.source.map(1, 1)!)).toEqual([1110, 1111, 1112]); // sample 1, pred 1: row 1
      expect(Array.from(r.source.map(0, 1)!)).toEqual([110, 111, 112]);
      expect(r.source.map(2, 0)).toBeNull();
      // norm "none": the extent of the current layer's maps of the current method (layer 1,
      // activation/max: lo = 1000 r + 110) over the rows used (0 and 1), by hand
      expect(r.valueRange).toEqual([110, 1112]);
      expect(r.layerRange!(0)).toEqual([10, 1012]);
    }
    const l0 = resolveMaps(fakeModel({ ...base, layer: 0 }), [1]);
    expect(l0.ready && l0.valueRange).toEqual([10, 1012]);
    const g = resolveMaps(fakeModel({ ...base, method: "gradcam" }), [1]); // key 0: lo = 1000 r + 100 l
    expect(g.ready && g.valueRange).toEqual([100, 1102]);
    const ns = resolveMaps(fakeModel({ ...base, norm: "sample" }), [1]);
    expect(ns.ready && ns.layerRange).toBeNull();
    // target "true": sample 1 (label 0) has its own row 2; sample 0 (pred = label) shares row 0
    const t = resolveMaps(fakeModel({ ...base, target: "true" }), [0, 1]);
    expect(t.ready && Array.from(t.source.map(1, 1)!)).toEqual([2110, 2111, 2112]);
    expect(t.ready && Array.from(t.source.map(0, 1)!)).toEqual([110, 111, 112]);
  });
  it("derives every norm from the same rows", () => {
    const s = resolveMaps(fakeModel({ ...base, norm: "sample", cube_meta: { scale_range: [-1, 1] } }), [1]);
    expect(s.ready && Array.from(s.source.map(1, 1)!)).toEqual([-1, 0, 1]);
    expect(s.ready && s.valueRange).toEqual([-1, 1]);
    // layer 1, key 1 under target "pred": rows 0 and 1, range (110, 1112)
    const l = resolveMaps(fakeModel({ ...base, norm: "layer" }), [1]);
    const want = [1110, 1111, 1112].map((v) => (v - 110) / 1002);
    l.ready && Array.from(l.source.map(1, 1)!).forEach((v, i) => expect(v).toBeCloseTo(want[i], 6));
    // under target "true" the rows are 0 and 2: range (110, 2112)
    const lt = resolveMaps(fakeModel({ ...base, norm: "layer", target: "true" }), [1]);
    lt.ready && Array.from(lt.source.map(1, 1)!).forEach((v, i) => expect(v).toBeCloseTo((2110 + i - 110) / 2002, 6));
  });
  it("decodes uint8 and float16 unit values", () => {
    const u8: Packed = { dtype: "uint8", shape: [3, 2, 2, 3], data: new DataView(new Uint8Array(unitValues.map((v) => Math.round(v * 255))).buffer) };
    const r = resolveMaps(fakeModel({ ...base, cube: u8 }), [1]);
    expect(r.ready && Array.from(r.source.map(1, 1)!)).toEqual([1110, 1110 + (128 / 255) * 2, 1112].map(Math.fround));
    const bits = unitValues.map((v) => (v === 0 ? 0 : v === 0.5 ? 0x3800 : 0x3c00)); // 0, 0.5, 1 as half
    const f16: Packed = { dtype: "float16", shape: [3, 2, 2, 3], data: new DataView(new Uint16Array(bits).buffer) };
    const h = resolveMaps(fakeModel({ ...base, cube: f16 }), [1]);
    expect(h.ready && Array.from(h.source.map(1, 1)!)).toEqual([1110, 1111, 1112]);
  });
  it("waits for a target whose maps are not there, and says why offline", () => {
    const r = resolveMaps(fakeModel({ ...base, target: 1 }), [0]);
    expect(r.ready).toBe(false);
    expect(resolveMaps(fakeModel({ ...base, target: 1 }), [1]).ready).toBe(true); // sample 1 has it
    const off = resolveMaps(fakeModel({ ...base, target: 1, offline: true }), [0]);
    expect(!off.ready && off.why).toContain('save_html(targets="all")');
    // a sample with no row for any class (non-finite values) is drawn without a map
    const rows = i32s([2, 2], [-1, -1, 2, 1]);
    const nan = resolveMaps(fakeModel({ ...base, cube_rows: rows }), [0]);
    expect(nan.ready && nan.source.map(0, 0)).toBeNull();
  });
  it("draws kernel maps only when maps_meta matches the controls", () => {
    const maps = f32([1, 2, 3], [0, 0.5, 1, 0, 0.5, 1]);
    const maps_scale = f32([1, 2, 2], [7, 9, 70, 90]);
    const meta = { request_id: 5, samples: [1], method: "activation", reduction: "max", target: "pred", norm: "sample" };
    const k = { ...base, precomputed: false, maps, maps_scale, maps_meta: meta, norm: "sample" };
    const r = resolveMaps(fakeModel(k), [1]);
    expect(r.ready && Array.from(r.source.map(1, 1)!)).toEqual([70, 80, 90]);
    expect(resolveMaps(fakeModel({ ...k, reduction: "mean" }), [1]).ready).toBe(false);
    expect(resolveMaps(fakeModel({ ...k, norm: "layer" }), [1]).ready).toBe(false);
    expect(resolveMaps(fakeModel({ ...k, target: 1 }), [1]).ready).toBe(false);
    expect(resolveMaps(fakeModel(k), [0, 1]).ready).toBe(false);
    // the reduction does not matter for a method without one
    const g = { ...k, method: "gradcam", maps_meta: { ...meta, method: "gradcam", reduction: "mean" } };
    expect(resolveMaps(fakeModel(g), [1]).ready).toBe(true);
  });
  it("takes the norm-none colour range of kernel maps per layer from maps_scale", () => {
    // two samples, two layers: (lo, hi) per map; layer 0 spans 7..19, layer 1 70..190
    const maps = f32([2, 2, 3], new Array(12).fill(0.5));
    const maps_scale = f32([2, 2, 2], [7, 9, 70, 90, 11, 19, 110, 190]);
    const meta = { request_id: 5, samples: [0, 1], method: "activation", reduction: "max", target: "pred", norm: "none" };
    const k = { ...base, precomputed: false, maps, maps_scale, maps_meta: meta, norm: "none", layer: 1 };
    const r = resolveMaps(fakeModel(k), [0, 1]);
    expect(r.ready && r.valueRange).toEqual([70, 190]);
    expect(r.ready && r.layerRange!(0)).toEqual([7, 19]);
    const s = buildScene(fakeModel({ ...k, view: "grid", sample: 0 })).scene!;
    expect(s.valueRange).toEqual([70, 190]);
    expect(s.stripRanges).toEqual([[7, 19], [70, 190]]);
  });
  it("decodes kernel maps again when only their ranges change (a norm change)", () => {
    const maps = f32([1, 2, 3], [0, 0.5, 1, 0, 0.5, 1]);
    const meta = { request_id: 5, samples: [1], method: "activation", reduction: "max", target: "pred", norm: "sample" };
    const k = { ...base, precomputed: false, maps, maps_scale: f32([1, 2, 2], [0, 1, 0, 1]), maps_meta: meta, norm: "sample" };
    const a = resolveMaps(fakeModel(k), [1]);
    expect(a.ready && Array.from(a.source.map(1, 1)!)).toEqual([0, 0.5, 1]);
    // the same `maps` value (same unit values), new ranges: norm "layer" sent by Python
    const l = { ...k, maps_scale: f32([1, 2, 2], [0, 1, 0, 0.5]), maps_meta: { ...meta, norm: "layer" }, norm: "layer" };
    const b = resolveMaps(fakeModel(l), [1]);
    expect(b.ready && Array.from(b.source.map(1, 1)!)).toEqual([0, 0.25, 0.5]);
  });
});

describe("setControls", () => {
  it("syncs layer changes without a request in precompute mode", () => {
    const m = fakeModel(base);
    setControls(m, { layer: 0, sample: 0 });
    expect(m.saved).toEqual([{ layer: 0, sample: 0 }]);
  });
  it("bumps request_id for map-changing controls in kernel mode, not for the layer", () => {
    const m = fakeModel({ ...base, precomputed: false });
    setControls(m, { layer: 0 });
    setControls(m, { sample: 0 });
    setControls(m, { sample: 0 }); // no change: nothing sent
    expect(m.saved).toEqual([{ layer: 0 }, { sample: 0, request_id: 6 }]);
  });
  it("bumps request_id for a target change even with a cube", () => {
    const m = fakeModel(base);
    setControls(m, { target: 1 });
    expect(m.saved).toEqual([{ target: 1, request_id: 6 }]);
  });
});

describe("scene and titles", () => {
  it("builds the single view with title, series and map of the current layer", () => {
    const { scene, ready } = buildScene(fakeModel(base));
    expect(ready).toBe(true);
    expect(scene!.samples.map((s) => s.id)).toEqual([11]);
    expect(scene!.samples[0].title).toBe("[true: Normal | pred: Myocardial Infarction (0.97)]");
    expect(scene!.title).toBe("CAM - max - blocks.1");
    expect(Array.from(scene!.samples[0].channels[0])).toEqual([4, 5, 6]);
    expect(Array.from(scene!.samples[0].map!)).toEqual([1110, 1111, 1112]);
    expect(scene!.strip!.map((r) => r![0])).toEqual([1010, 1110]);
    expect(scene!.valueRange).toEqual([110, 1112]); // layer 1, activation/max
    expect(scene!.stripRanges).toEqual([[10, 1012], [110, 1112]]); // each strip row its own
  });
  it("shows the listed samples in the grid when the sample menu filters", () => {
    // sample 0 is correct (true 0, pred 0), sample 1 a mistake (true 0, pred 1)
    const grid = { ...base, view: "grid", view_count: 2, sample: 0 };
    expect(buildScene(fakeModel(grid)).scene!.samples.map((s) => s.n)).toEqual([0, 1]);
    expect(buildScene(fakeModel({ ...grid, sample_filter: "correct" })).scene!.samples.map((s) => s.n)).toEqual([0]);
    const mistakes = { ...grid, sample: 1, sample_filter: "mistakes", filter_true: -1, filter_pred: -1, sample_sort: "index" };
    expect(buildScene(fakeModel(mistakes)).scene!.samples.map((s) => s.n)).toEqual([1]);
    const sorted = { ...grid, sample: 1, sample_sort: "-confidence" }; // most sure first: 1, 0
    expect(buildScene(fakeModel(sorted)).scene!.samples.map((s) => s.n)).toEqual([1, 0]);
  });
  it("formats titles", () => {
    expect(sampleTitle(["a"], { trueClass: -1, predClass: 0, prob: NaN })).toBe("[true: ? | pred: a]");
    const t = { method: "gradcam", methodLabels: { gradcam: "Grad-CAM" }, reduction: "mean", reductionMethods: ["activation"], layerName: "blocks.5", target: "pred", classes: ["N", "MI"] };
    expect(methodTitle(t)).toBe("Grad-CAM - blocks.5");
    expect(methodTitle({ ...t, method: "activation", target: 1 })).toBe("activation - mean - blocks.5 - target: MI");
    // a method that ignores the target never names one
    const tm = { ...t, targetMethods: ["gradcam"] };
    expect(methodTitle({ ...tm, method: "activation", target: "true" })).toBe("activation - mean - blocks.5");
    expect(methodTitle({ ...tm, target: "true" })).toBe("Grad-CAM - blocks.5 - target: true");
  });
});

describe("geometry", () => {
  it("grid shape follows multi_fig", () => {
    expect([1, 2, 3, 4, 5, 7, 9, 10].map((k) => gridShape(k))).toEqual([
      { nrows: 1, ncols: 1 }, { nrows: 1, ncols: 2 }, { nrows: 1, ncols: 3 }, { nrows: 2, ncols: 2 },
      { nrows: 2, ncols: 3 }, { nrows: 2, ncols: 4 }, { nrows: 3, ncols: 3 }, { nrows: 3, ncols: 4 },
    ]);
  });
  it("view samples start at the sample and stop at the end", () => {
    expect(viewSamples("single", 3, 4, 10)).toEqual([3]);
    expect(viewSamples("grid", 3, 4, 10)).toEqual([3, 4, 5, 6]);
    expect(viewSamples("overlay", 8, 4, 10)).toEqual([8, 9]);
    // filtered ("mistakes" = 2, 5, 7, 9): the listed samples from the current one on
    expect(viewSamples("grid", 5, 3, 10, [2, 5, 7, 9])).toEqual([5, 7, 9]);
    expect(viewSamples("overlay", 7, 4, 10, [2, 5, 7, 9])).toEqual([7, 9]);
    expect(viewSamples("grid", 0, 3, 10, [2, 5, 7, 9])).toEqual([0, 2, 5]); // not listed: first
    expect(viewSamples("single", 5, 3, 10, [2, 5, 7, 9])).toEqual([5]);
  });
  it("layer strip columns keep bucket maxima; play wraps", () => {
    expect(Array.from(columnMax([0, 0.2, 0.9, 0.1, NaN, NaN], 3))).toEqual([0.2, 0.9, NaN].map(Math.fround));
    expect([nextLayer(0, 3), nextLayer(2, 3), nextLayer(5, 0)]).toEqual([1, 0, 0]);
  });
});

describe("hover", () => {
  it("says when CAM values are quantised, and by how much", () => {
    const map = new Float32Array([2, 3, 4.55]); // range 2.55: half a uint8 step is 0.005
    expect(quantisation(map, "uint8")).toBe(" ±0.005 (uint8, quantised)");
    expect(quantisation(map, "float16")).toContain("(float16, quantised)");
    expect(quantisation(map, "float32")).toBe("");
  });
});

describe("layer strip labels", () => {
  const fits = (n: number) => (s: string) => s.length <= n;
  it("drop the shared prefix and keep names whole when they fit", () => {
    expect(stripLabels(["model.backbone.blocks.0", "model.backbone.blocks.1", "model.head"], fits(20)))
      .toEqual(["backbone.blocks.0", "backbone.blocks.1", "head"]);
    expect(stripLabels(["input", "blocks.0", "blocks.1"], fits(20))).toEqual(["input", "blocks.0", "blocks.1"]);
  });
  it("shorten leading parts, keeping numbers and the last part, so rows stay apart", () => {
    const names = ["input", "backbone.block1.shortcut", "backbone.block1.add", "backbone.block2.shortcut", "backbone.block2.add"];
    expect(stripLabels(names, fits(14))).toEqual(["input", "b.b1.shortcut", "b.block1.add", "b.b2.shortcut", "b.block2.add"]);
    expect(abbreviate("convblock12")).toBe("c12");
    expect(abbreviate("7")).toBe("7");
  });
  it("never give two rows the same label", () => {
    const names = ["a.very.long.name.x", "b.very.long.name.x", "c.very.long.name.x"];
    const got = stripLabels(names, fits(8));
    expect(new Set(got).size).toBe(3);
    for (const l of got) expect(l.length).toBeLessThanOrEqual(8);
  });
});

describe("seriesRow (a large data set: only the visible samples' series travel)", () => {
  it("maps a sample to its row, or -1 until its series arrives", async () => {
    const { seriesRow } = await import("../src/scene");
    const all = fakeModel({ series_samples: i32([]) });
    expect(seriesRow(all, 7)).toBe(7);
    const some = fakeModel({ series_samples: i32([40, 12, 13]) });
    expect(seriesRow(some, 12)).toBe(1);
    expect(seriesRow(some, 40)).toBe(0);
    expect(seriesRow(some, 5)).toBe(-1);
  });
  it("draws a held sample from its row and waits for one not held", () => {
    const base: Partial<CamTraits> = {
      series: f32([1, 1, 3], [5, 6, 7]),
      series_samples: i32([12]),
      n_samples: 20,
      layers: ["a"],
      layer: 0,
      view: "single",
      view_count: 1,
      precomputed: false,
    };
    const held = buildScene(fakeModel({ ...base, sample: 12 }));
    expect(held.scene).not.toBeNull();
    expect(Array.from(held.scene!.samples[0].channels[0])).toEqual([5, 6, 7]);
    expect(held.scene!.samples[0].n).toBe(12);
    const missing = buildScene(fakeModel({ ...base, sample: 3 }));
    expect(missing.scene).toBeNull();
    expect(missing.why).toBe("loading series");
  });
});
