import { describe, expect, it } from "vitest";
import { panelAt, timeAt, tooltipLines } from "../src/hover";
import { dashPattern, overlayLinestyle, sceneLayout } from "../src/render";
import type { Scene } from "../src/scene";
import { stripGeometry, stripLayerAt } from "../src/strip";

const sample = (id: number, C: number) => ({
  n: id, id, label: { trueClass: 0, predClass: 0, prob: 0.9 }, title: "[t]",
  channels: Array.from({ length: C }, (_, c) => new Float32Array([c, 1.5 + c, 2])),
  map: new Float32Array([0, 0.25, 1]),
  channelMaps: null,
  share: null,
});

describe("line styles", () => {
  it("scales matplotlib's dash patterns by the line width", () => {
    expect(dashPattern("solid", 4)).toEqual([]);
    expect(dashPattern("dashed", 2)).toEqual([7.4, 3.2]);
    expect(dashPattern("dotted", 0.5)).toEqual([1, 1.65]); // at least 1 px wide
    expect(dashPattern("dashdot", 1)).toEqual([6.4, 1.6, 1, 1.6]);
  });
  it("overlay: first sample keeps its style, later ones are dashed, dotted, dashdot", () => {
    expect([0, 1, 2, 3, 4].map((i) => overlayLinestyle(i, "solid"))).toEqual(["solid", "dashed", "dotted", "dashdot", "dashed"]);
  });
});

describe("layout, hover and strip geometry", () => {
  const scene = (view: Scene["view"], C: number, k: number): Scene => ({
    view, C, T: 3, title: "", valueRange: [0, 1], strip: null, stripRanges: null, layer: 0, layerNames: [], perChannel: false, meanShare: null, channelNote: "",
    samples: Array.from({ length: k }, (_, i) => sample(i, C)),
  });
  it("stacks channel panels and sizes the figure", () => {
    const l = sceneLayout(scene("single", 2, 1), 800);
    // two panels of max(80, 360 / 2) = 180 px with an 8 px gap; top 34 + 368 + bottom 42
    expect(l.height).toBe(444);
    expect(l.cells[0].panels.map((r) => [r.x, r.y, r.w, r.h])).toEqual([[84, 34, 634, 180], [84, 222, 634, 180]]);
    expect(l.colourBar).toEqual({ x: 734, y: 34, w: 14, h: 368 });
  });
  it("lays a grid of 3 out as 1 row x 3 columns", () => {
    const l = sceneLayout(scene("grid", 1, 3), 800);
    expect(l.cells.length).toBe(3);
    expect(new Set(l.cells.map((c) => c.panels[0].y)).size).toBe(1);
    expect(l.cells.map((c) => c.title)).toEqual(["#0 [t]", "#1 [t]", "#2 [t]"]);
  });
  it("hover finds the panel and nearest time step", () => {
    const hits = [{ rect: { x: 100, y: 10, w: 200, h: 50 }, samples: [sample(7, 2)], channel: 0, T: 3 }];
    expect(panelAt(hits, 99, 20)).toBeNull();
    const h = panelAt(hits, 180, 20)!;
    expect(timeAt(h, 180)).toBe(1); // (80 / 200) * 2 = 0.8 -> 1
    expect(timeAt(h, 500)).toBe(2);
    expect(tooltipLines(h, 1)).toEqual(["t = 1", "ch0 1.5, ch1 2.5", "CAM 0.25"]);
  });
  it("strip rows map clicks to layers", () => {
    const g = stripGeometry(12, 800, 84, 82);
    expect([g.rowH, g.height, g.width]).toEqual([14, 18 + 12 * 14 + 4, 634]);
    expect([stripLayerAt(g, 200, 17), stripLayerAt(g, 200, 18), stripLayerAt(g, 200, 18 + 14 * 11 + 13), stripLayerAt(g, 200, 18 + 14 * 12)]).toEqual([-1, 0, 11, -1]);
    expect(stripGeometry(40, 800, 84, 82).rowH).toBe(6);
  });
});

describe("plot width", () => {
  it("uses the laid-out width, else the last one (hidden for a frame), else the element's", async () => {
    const { plotWidth } = await import("../src/layout");
    expect(plotWidth(968.6, 800, 1000)).toBe(968);
    expect(plotWidth(0, 968, 0)).toBe(968); // JupyterLab theme switch: shell hidden for one frame
    expect(plotWidth(0, 0, 640)).toBe(640);
    expect(plotWidth(0, 0, 0)).toBe(800);
  });
  it("single view after grid/overlay: the plot reaches width - right margin", () => {
    const s = (view: "single" | "grid" | "overlay", k: number) =>
      ({ view, samples: Array.from({ length: k }, (_, i) => sample(i, 1)), C: 1, T: 3 }) as unknown as Scene;
    sceneLayout(s("grid", 4), 968);
    sceneLayout(s("overlay", 4), 968);
    const single = sceneLayout(s("single", 1), 968);
    const p = single.cells[0].panels[0];
    expect(p.x + p.w).toBe(886);
    expect(single.colourBar.x).toBe(902);
  });
});
