import { describe, expect, it } from "vitest";
import { channelShares, resolveChannels } from "../src/channels";
import { buildScene } from "../src/scene";
import type { CamTraits, Packed, TraitReader } from "../src/types";

function f32(shape: number[], values: number[]): Packed {
  return { dtype: "float32", shape, data: new DataView(new Float32Array(values).buffer) };
}
function i32(shape: number[], values: number[]): Packed {
  return { dtype: "int32", shape, data: new DataView(new Int32Array(values).buffer) };
}
function reader(t: Partial<CamTraits>): TraitReader {
  return { get: (k) => t[k] as never };
}

// 2 samples, C=2 channels, T=2 steps, one layer ("input"), one key "hirescam".
// raw maps per channel: sample 0 [[1, 3], [0, 4]] (|.| per channel 4 and 4: shares 0.5, 0.5),
// sample 1 [[-2, 0], [6, 0]] (2 and 6: 0.25, 0.75); unit values and (lo, hi) per sample.
const raw = [[1, 3, 0, 4], [-2, 0, 6, 0]];
const unit: number[] = [];
const scale: number[] = [];
for (const r of raw) {
  const lo = Math.min(...r);
  const hi = Math.max(...r);
  unit.push(...r.map((v) => (v - lo) / (hi - lo)));
  scale.push(lo, hi);
}

const base: Partial<CamTraits> = {
  layer: 0, method: "hirescam", reduction: "mean", sample: 0, target: "pred", norm: "none",
  view: "single", view_count: 1, precomputed: true, layers: ["input"], methods: ["hirescam"],
  method_labels: { hirescam: "HiResCAM" }, reductions: ["mean"], reduction_methods: [],
  classes: ["a", "b"], n_samples: 2, series: f32([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
  y_true_buffer: i32([2], [0, 1]), y_pred_buffer: i32([2], [0, 1]), sample_ids: i32([2], [0, 1]),
  probs_buffer: f32([2, 2], [0.9, 0.1, 0.2, 0.8]),
  cube: f32([2, 1, 1, 2], [0, 1, 0, 1]), cube_scale: f32([2, 1, 1, 2], [0, 8, 0, 6]),
  cube_rows: i32([2, 2], [0, -1, -1, 1]), cube_keys: ["hirescam"], cube_meta: { scale_range: [0, 1] },
  channel_cube: f32([2, 1, 2, 2], unit), channel_scale: f32([2, 1, 2], scale), channel_keys: ["hirescam"],
};

describe("maps per channel", () => {
  it("shares of |attribution| per channel, equal when all zero", () => {
    expect(Array.from(channelShares(new Float32Array([1, -3, 0, 4]), 2, 2))).toEqual([0.5, 0.5]);
    expect(Array.from(channelShares(new Float32Array(4), 2, 2))).toEqual([0.5, 0.5]);
  });

  it("decodes the precomputed maps per channel under each norm, and their shares", () => {
    const none = resolveChannels(reader(base))!;
    expect(none.valueRange).toEqual([-2, 6]); // over every sample held
    expect(Array.from(none.maps(1)![1])).toEqual([6, 0]);
    expect(Array.from(none.share(1)!)).toEqual([0.25, 0.75]);
    const mean = none.meanShare([0, 1])!;
    expect(mean.count).toBe(2);
    expect(Array.from(mean.share)).toEqual([0.375, 0.625]);
    const sample = resolveChannels(reader({ ...base, norm: "sample" }))!;
    expect(sample.valueRange).toEqual([0, 1]);
    expect(Array.from(sample.maps(0)![0])).toEqual([0.25, 0.75]); // (1 - 0) / 4, (3 - 0) / 4
    const layer = resolveChannels(reader({ ...base, norm: "layer" }))!;
    expect(Array.from(layer.maps(0)![1])).toEqual([0.25, 0.75]); // (0 + 2) / 8, (4 + 2) / 8
  });

  it("the scene colours each channel by its own map on the input layer only", () => {
    const { scene } = buildScene(reader(base));
    expect(scene!.perChannel).toBe(true);
    expect(scene!.valueRange).toEqual([-2, 6]);
    expect(Array.from(scene!.samples[0].channelMaps![0])).toEqual([1, 3]);
    expect(scene!.channelNote).toBe("");
    // a method with no maps per channel: one map, and the note says why
    const other = buildScene(reader({ ...base, channel_keys: [] })).scene!;
    expect(other.perChannel).toBe(false);
    expect(other.channelNote).toBe("HiResCAM has no map per channel: one map for all 2 channels");
  });

  it("kernel mode reads channel_maps of the samples sent", () => {
    const k = resolveChannels(reader({
      ...base, precomputed: false, value_range: [0, 1],
      maps_meta: { samples: [1], method: "hirescam", reduction: "mean", target: "pred", norm: "none", channels: true },
      channel_maps: f32([1, 2, 2], unit.slice(4)), channel_maps_scale: f32([1, 2], scale.slice(2)),
    }))!;
    expect(k.maps(0)).toBeNull();
    expect(Array.from(k.maps(1)![0])).toEqual([-2, 0]);
    expect(Array.from(k.share(1)!)).toEqual([0.25, 0.75]);
  });
});
