import { describe, expect, it } from "vitest";
import { keyChange } from "../src/view";

const model = (t: Record<string, unknown>) => ({ get: (k: string) => t[k] }) as never;

describe("keys", () => {
  const m = model({ layers: ["a", "b", "c"], n_samples: 2, sample: 1, layer: 0, playing: false });
  it("move the sample and the layer within their ranges", () => {
    expect(keyChange("ArrowLeft", m)).toEqual({ sample: 0 });
    expect(keyChange("ArrowRight", m)).toEqual({ sample: 1 });
    expect(keyChange("ArrowUp", m)).toEqual({ layer: 0 });
    expect(keyChange("ArrowDown", m)).toEqual({ layer: 1 });
  });
  it("space plays and pauses; other keys do nothing", () => {
    expect(keyChange(" ", m)).toEqual({ playing: true });
    expect(keyChange("a", m)).toBeNull();
  });
});
