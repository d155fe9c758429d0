import { describe, expect, it } from "vitest";
import { maskRow, maskRuns } from "../src/band";
import { cellAt, cellControls, gainColour, isolatedPoints, randomisedReader, selectedCell, trustLayout, trustTables } from "../src/trust";
import { TRUST_TABLES, type TrustTable } from "../src/protocol.gen";
import type { Packed, TraitReader } from "../src/types";

function f32(shape: number[], values: number[]): Packed {
  return { dtype: "float32", shape, data: new DataView(new Float32Array(values).buffer) };
}
function u8(shape: number[], values: number[]): Packed {
  return { dtype: "uint8", shape, data: new DataView(new Uint8Array(values).buffer) };
}
function reader(t: Record<string, unknown>): TraitReader {
  return { get: (k: string) => t[k] as never } as TraitReader;
}

const META = { state: "done", layers: ["input", "b0", "b1"], keys: ["activation/mean", "gradcam", "hirescam"], loc_metric: "relevance_mass" };

describe("trust table", () => {
  it("maps a cell to its layer, method and reduction", () => {
    const m = reader({ trust_meta: META });
    expect(cellControls(m, { layer: 2, col: 1 })).toEqual({ layer: 2, method: "gradcam" });
    expect(cellControls(m, { layer: 0, col: 0 })).toEqual({ layer: 0, method: "activation", reduction: "mean" });
  });
  it("finds the selected cell from the controls", () => {
    expect(selectedCell(reader({ trust_meta: META, layer: 1, method: "hirescam", reduction: "max" }))).toEqual({ layer: 1, col: 2 });
    // a reduction method with another reduction still points at its column
    expect(selectedCell(reader({ trust_meta: META, layer: 0, method: "activation", reduction: "max" }))).toEqual({ layer: 0, col: 0 });
    expect(selectedCell(reader({ trust_meta: META, layer: 0, method: "eigencam", reduction: "mean" })).col).toBe(-1);
  });
  it("lays out one table per score and finds the cell under a point", () => {
    const m = reader({
      trust_meta: META,
      trust_gain: f32([3, 3], [0.1, -0.2, 0.3, 0, 0, 0, NaN, 0.5, 0.4]),
      trust_loc: f32([3, 3], [0.5, 0.5, 0.5, 0, 0, 0, 0, 1, 1]),
      trust_rand_corr: f32([3, 3], new Array(9).fill(0.2)),
    });
    expect(trustTables(m).map((t) => t.name)).toEqual(["gain", "loc", "corr"]);
    const lay = trustLayout(m, 1000);
    expect(lay.cells.length).toBe(27);
    const c = lay.cells.find((q) => q.table === "loc" && q.layer === 2 && q.col === 1)!;
    expect(cellAt(lay, c.x + c.w / 2, c.y + c.h / 2)).toEqual(c);
    expect(cellAt(lay, 1, 1)).toBeNull();
    // no mask: no localisation table
    expect(trustTables(reader({ trust_meta: META, trust_gain: f32([3, 3], new Array(9).fill(0)) })).map((t) => t.name)).toEqual(["gain"]);
  });
  it("draws every table of the protocol list: an extra entry gets its own table, title and colours", () => {
    const extra: TrustTable = { trait: "trust_fake", name: "fake", title: "fake score ({loc_metric})", scale: "diverging", colour: "#000000", negative: "#ffffff", span: 2, grow: false, magnitude: false };
    const m = reader({
      trust_meta: META,
      trust_gain: f32([3, 3], new Array(9).fill(0.1)),
      trust_rand_corr: f32([3, 3], new Array(9).fill(0.2)),
      trust_fake: f32([3, 3], [2, -2, 1, 0, 0, 0, 0, 0, 0]),
    });
    const specs = trustTables(m, [...TRUST_TABLES, extra]);
    expect(specs.map((t) => t.name)).toEqual(["gain", "corr", "fake"]);
    const fake = specs[2];
    expect(fake.title).toBe("fake score (relevance mass)");
    expect(fake.values[1]).toBe(-2);
    // full colour at the span (2), half way at 1: mix of white (247) and black
    expect(fake.colour(2)).toBe("rgb(0,0,0)");
    expect(fake.colour(1)).toBe("rgb(124,124,124)");
    expect(fake.colour(-2)).toBe("rgb(255,255,255)");
    expect([fake.dark(1.3), fake.dark(1.1)]).toEqual([true, false]);
    const lay = trustLayout(m, 1000, [...TRUST_TABLES, extra]);
    expect(lay.cells.filter((c) => c.table === "fake").length).toBe(9);
    expect(lay.tables.map((t) => t.spec.name)).toEqual(["gain", "corr", "fake"]);
    // without the entry the default list draws only the protocol's tables
    expect(trustLayout(m, 1000).tables.map((t) => t.spec.name)).toEqual(["gain", "corr"]);
  });
  it("keeps the protocol tables' titles and colours", () => {
    const m = reader({
      trust_meta: META,
      trust_gain: f32([1, 2], [0.1, -0.4]),
      trust_loc: f32([1, 2], [0.5, 0.7]),
      trust_rand_corr: f32([1, 2], [-0.5, 0.9]),
    });
    const [gain, loc, corr] = trustTables(m);
    expect(gain.title).toBe("gain over random: random-chunk AUC - MoRF AUC (red: better than random)");
    expect(loc.title).toBe("localisation (relevance mass)");
    expect(corr.title).toBe("rank correlation with the randomised model's maps (high: fails the sanity check)");
    // gain: the span grows to the largest |value| (0.4): -0.4 is full blue
    expect(gain.colour(-0.4)).toBe("rgb(5,113,176)");
    expect([gain.dark(0.25), gain.dark(0.2)]).toEqual([true, false]);
    // localisation: white to green over 0..1; correlation: white to purple over |v|
    expect(loc.colour(1)).toBe("rgb(0,109,44)");
    expect(loc.colour(0.5)).toBe("rgb(124,178,146)");
    expect([loc.dark(0.7), loc.dark(0.5)]).toEqual([true, false]);
    expect(corr.colour(-1)).toBe("rgb(84,39,143)");
    expect([corr.dark(-0.9), corr.dark(0.5)]).toEqual([true, false]);
  });
  it("colours gain red above zero, blue below, white at zero", () => {
    const c = gainColour(0.5);
    expect(c(0)).toBe("rgb(247,247,247)");
    expect(c(0.5)).toBe("rgb(202,0,32)");
    expect(c(-0.5)).toBe("rgb(5,113,176)");
  });
});

describe("depth plot", () => {
  it("dots the finite values without a finite neighbour (an input attribution's input row)", () => {
    expect(isolatedPoints([0.3, NaN, NaN])).toEqual([0]);
    expect(isolatedPoints([NaN, 0.1, NaN, 0.2, 0.4])).toEqual([1]);
    expect(isolatedPoints([0.1, 0.2])).toEqual([]);
    expect(isolatedPoints([NaN, NaN])).toEqual([]);
  });
});

describe("randomised reader", () => {
  it("swaps the cube for the randomised model's and keeps every other trait", () => {
    const cube = u8([1, 1, 1, 2], [0, 255]);
    const m = reader({ trust_meta: META, trust_rand_cube: cube, trust_rand_scale: "S", trust_rand_rows: "R", cube: "C", norm: "none", value_range: [0, 9], sample: 4 });
    const r = randomisedReader(m);
    expect(r.get("cube")).toBe(cube);
    expect(r.get("cube_scale")).toBe("S");
    expect(r.get("cube_rows")).toBe("R");
    expect(r.get("cube_keys")).toEqual(META.keys);
    expect(r.get("precomputed")).toBe(true);
    expect(r.get("value_range")).toEqual([]); // norm none: the range of the randomised maps
    expect(r.get("sample")).toBe(4);
    expect(r.get("target")).toBe("pred"); // the class the randomised maps explain
  });
});

describe("mask band", () => {
  it("finds the runs of a mask row", () => {
    expect(maskRuns([0, 1, 1, 0, 0, 1])).toEqual([[1, 3], [5, 6]]);
    expect(maskRuns([0, 0])).toEqual([]);
    expect(maskRuns([1, 1])).toEqual([[0, 2]]);
  });
  it("reads a sample's row of the mask trait", () => {
    const m = reader({ mask: u8([2, 3], [0, 1, 0, 1, 1, 0]) });
    expect(Array.from(maskRow(m, 1)!)).toEqual([1, 1, 0]);
    expect(maskRow(m, 2)).toBeNull();
    expect(maskRow(reader({ mask: u8([0], []) }), 0)).toBeNull();
  });
});
