import { describe, expect, it } from "vitest";
import { confidences, isFiltered, NON_FINITE, nonFiniteCount, predictedCount, predictionsFilling, sampleList, showChanges, showValue, stepSample } from "../src/samples";
import type { CamTraits, Packed, TraitReader } from "../src/types";

const q = (o: Partial<{ filter: string; trueClass: number; predClass: number; sort: string }> = {}) => ({
  filter: "all", trueClass: -1, predClass: -1, sort: "index", ...o,
});

// 6 samples, 2 classes; sample 5 not predicted yet
const yTrue = [0, 0, 1, 1, 0, 1];
const yPred = [0, 1, 1, 0, 0, -1];
const probs = [0.9, 0.1, 0.4, 0.6, 0.2, 0.8, 0.55, 0.45, 0.7, 0.3, NaN, NaN];

describe("sample filters and sort", () => {
  it("lists the mistakes, the correct ones, by true and predicted class", () => {
    expect(sampleList(yTrue, yPred, probs, 2, q({ filter: "mistakes" }))).toEqual([1, 3]);
    expect(sampleList(yTrue, yPred, probs, 2, q({ filter: "correct" }))).toEqual([0, 2, 4]);
    expect(sampleList(yTrue, yPred, probs, 2, q({ trueClass: 1 }))).toEqual([2, 3, 5]);
    expect(sampleList(yTrue, yPred, probs, 2, q({ predClass: 0 }))).toEqual([0, 3, 4]);
    expect(sampleList(yTrue, yPred, probs, 2, q())).toEqual([0, 1, 2, 3, 4, 5]);
  });
  it("sorts by confidence, samples without a prediction last", () => {
    expect(Array.from(confidences(yPred, probs, 2)).slice(0, 5)).toEqual([0.9, 0.6, 0.8, 0.55, 0.7]);
    expect(sampleList(yTrue, yPred, probs, 2, q({ sort: "confidence" }))).toEqual([3, 1, 4, 2, 0, 5]);
    expect(sampleList(yTrue, yPred, probs, 2, q({ sort: "-confidence" }))).toEqual([0, 2, 4, 1, 3, 5]);
    expect(predictedCount(yPred)).toBe(5);
  });
  it("a non-finite sample has no prediction: never a mistake, sorted last, not filling in", () => {
    // sample 0 and a middle one hold NaN/inf (y_pred -2); sample 5 is not predicted yet
    const yP = [NON_FINITE, 1, NON_FINITE, 0, 0, -1];
    const pr = [NaN, NaN, 0.4, 0.6, NaN, NaN, 0.55, 0.45, 0.7, 0.3, NaN, NaN];
    expect(sampleList(yTrue, yP, pr, 2, q({ filter: "mistakes" }))).toEqual([1, 3]);
    expect(sampleList(yTrue, yP, pr, 2, q({ filter: "correct" }))).toEqual([4]);
    expect(sampleList(yTrue, yP, pr, 2, q({ sort: "confidence" }))).toEqual([3, 1, 4, 0, 2, 5]);
    expect(sampleList(yTrue, yP, pr, 2, q({ sort: "-confidence" }))).toEqual([4, 1, 3, 0, 2, 5]);
    expect([predictedCount(yP), nonFiniteCount(yP)]).toEqual([3, 2]);
    expect(predictionsFilling(yP, 6)).toBe(true);
    yP[5] = 1;
    expect(predictionsFilling(yP, 6)).toBe(false); // every finite sample predicted
  });
  it("maps the show menu to traits and back", () => {
    expect(showChanges("mistakes")).toEqual({ sample_filter: "mistakes", filter_true: -1, filter_pred: -1 });
    expect(showChanges("pred:1")).toEqual({ sample_filter: "all", filter_true: -1, filter_pred: 1 });
    expect(showValue(q({ trueClass: 1 }))).toBe("true:1");
    expect(showValue(q({ filter: "mistakes", trueClass: 1 }))).toBe("custom");
    expect(isFiltered(q())).toBe(false);
  });
  it("steps through the listed samples (arrows, ◀ ▶)", () => {
    const i32 = (v: number[]): Packed => ({ dtype: "int32", shape: [v.length], data: new DataView(new Int32Array(v).buffer) });
    const t: Partial<CamTraits> = {
      n_samples: 6, y_true_buffer: i32(yTrue), y_pred_buffer: i32(yPred),
      probs_buffer: { dtype: "float32", shape: [6, 2], data: new DataView(new Float32Array(probs).buffer) },
      sample_filter: "mistakes", filter_true: -1, filter_pred: -1, sample_sort: "index",
    };
    const m: TraitReader = { get: (k) => t[k] as never };
    expect(stepSample(m, 1, 1)).toBe(3);
    expect(stepSample(m, 3, 1)).toBe(3);
    expect(stepSample(m, 0, 1)).toBe(1);
    t.sample_filter = "all";
    expect(stepSample(m, 0, 1)).toBe(1);
    expect(stepSample(m, 5, 1)).toBe(5);
  });
});
