import { describe, expect, it } from "vitest";
import { controlHidden, targetOptions } from "../src/controls";
import type { ControlName, TraitReader } from "../src/types";

const model = (t: Record<string, unknown>) => ({ get: (k: string) => t[k] }) as TraitReader;
const input = { dtype: "float32", shape: [2, 1, 3], data: null };

describe("controls shown per view", () => {
  const base = { method: "gradcam", reduction_methods: ["activation"], input_series: input };
  const hidden = (view: string) =>
    (["method", "reduction", "target", "cmap", "norm", "view", "view_count", "mark", "series_view"] as ControlName[])
      .filter((n) => controlHidden(model({ ...base, view }), n));
  it("hides the display controls in the trust view, where they do nothing", () => {
    expect(hidden("trust")).toEqual(["reduction", "cmap", "norm", "view_count", "mark", "series_view"]);
  });
  it("shows them in the map views; the count only where several samples show", () => {
    expect(hidden("single")).toEqual(["reduction", "view_count"]);
    expect(hidden("grid")).toEqual(["reduction"]);
    expect(hidden("overlay")).toEqual(["reduction"]);
  });
  it("shows the reduction for a reduction method, the series menu only with an input series", () => {
    expect(controlHidden(model({ ...base, view: "single", method: "activation" }), "reduction")).toBe(false);
    expect(controlHidden(model({ view: "single", input_series: { ...input, shape: [0] } }), "series_view")).toBe(true);
  });
});

describe("target menu", () => {
  it("lists the generated named targets with Python's labels, then the classes", () => {
    const m = model({ options: { target: [["pred", "predicted"], ["true", "true"]] } });
    expect(targetOptions(m, ["a", "b"])).toEqual([["pred", "predicted"], ["true", "true"], ["0", "a"], ["1", "b"]]);
  });
});
