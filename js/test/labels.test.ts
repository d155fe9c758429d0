import { describe, expect, it } from "vitest";
import { shortLabels } from "../src/labels";
import { depthLabelStep, hoverText, trustLayout } from "../src/trust";
import type { Packed, TraitReader } from "../src/types";

// TST's layers as the trust table listed them (all "backbone.0.in..." when cut from the left)
const TST = [
  "input",
  "backbone.0.inner.layers.0.dropout",
  "backbone.0.inner.layers.0.ff",
  "backbone.0.inner.layers.1.dropout",
  "backbone.0.inner.layers.1.ff",
  "backbone.0.inner.layers.2.ff",
  "head.flatten",
];

describe("short layer labels", () => {
  it("keeps the shortest dotted suffix that tells the rows apart", () => {
    expect(shortLabels(TST)).toEqual(["input", "0.dropout", "0.ff", "1.dropout", "1.ff", "2.ff", "flatten"]);
    const labels = shortLabels(TST);
    expect(new Set(labels).size).toBe(TST.length);
    labels.forEach((l, i) => expect(TST[i].endsWith(l)).toBe(true));
  });
  it("never stops at a bare number", () => {
    expect(shortLabels(["input", "blocks.0", "blocks.1", "blocks.2"])).toEqual(["input", "blocks.0", "blocks.1", "blocks.2"]);
    expect(shortLabels(["a.0.conv", "a.1.conv"])).toEqual(["0.conv", "1.conv"]);
  });
  it("keeps a name that is another's suffix, and duplicates, whole", () => {
    expect(shortLabels(["conv", "b.conv", "a.b.conv"])).toEqual(["conv", "b.conv", "a.b.conv"]);
    expect(shortLabels(["x.y", "x.y"])).toEqual(["x.y", "x.y"]);
  });
});

function f32(shape: number[], values: number[]): Packed {
  return { dtype: "float32", shape, data: new DataView(new Float32Array(values).buffer) };
}

describe("trust view tooltips and depth axis", () => {
  const meta = { state: "done", layers: TST, keys: ["gradcam", "hirescam"] };
  const gain = f32([TST.length, 2], TST.flatMap((_, l) => [l / 10, -l / 10]));
  const m = { get: (k: string) => ({ trust_meta: meta, trust_gain: gain } as Record<string, unknown>)[k] } as TraitReader;
  const lay = trustLayout(m, 1000);
  it("names the full layer over a row label and over a cell", () => {
    const t = lay.tables[0];
    const c = lay.cells.find((q) => q.layer === 3 && q.col === 1)!;
    expect(hoverText(m, lay, t.x + 10, c.y + c.h / 2)).toBe("backbone.0.inner.layers.1.dropout");
    expect(hoverText(m, lay, c.x + c.w / 2, c.y + c.h / 2)).toBe("backbone.0.inner.layers.1.dropout · hirescam: -0.300");
    expect(hoverText(m, lay, 1, 1)).toBe("");
  });
  it("names the full layer over a turned depth-axis label", () => {
    const d = lay.depth;
    const xr = [-0.3, TST.length - 1 + 0.3];
    const tick = (l: number) => d.x + ((l - xr[0]) / (xr[1] - xr[0])) * d.w;
    // 20 px down-left along the label of layer 5 from its tick
    expect(hoverText(m, lay, tick(5) - 20, d.y + d.h + 24)).toBe(TST[5]);
  });
  it("labels every layer where the turned labels have room, every k-th where not", () => {
    expect(depthLabelStep(7, 400)).toBe(1);
    expect(depthLabelStep(60, 300)).toBe(3); // 60 layers on 300 px: 5 px apart -> every 3rd
    expect(depthLabelStep(1, 300)).toBe(1);
  });
});
