import { describe, expect, it } from "vitest";
import { colourIndex, ColourTable } from "../src/colour";

describe("colourIndex", () => {
  it("maps the range ends to the table ends", () => {
    expect(colourIndex(0, 0, 1)).toBe(0);
    expect(colourIndex(1, 0, 1)).toBe(255);
  });
  it("floors t * 256 like matplotlib", () => {
    expect(colourIndex(0.5, 0, 1)).toBe(128);
    expect(colourIndex(0.25, 0, 1)).toBe(64);
    expect(colourIndex(0.999, 0, 1)).toBe(255);
    expect(colourIndex(0.0039, 0, 1)).toBe(0); // 0.9984 -> 0
    expect(colourIndex(0.004, 0, 1)).toBe(1); // 1.024 -> 1
    expect(colourIndex(-1, -2, 2)).toBe(64); // t = 0.25
  });
  it("clamps outside the range", () => {
    expect(colourIndex(-0.5, 0, 1)).toBe(0);
    expect(colourIndex(7, 0, 1)).toBe(255);
    expect(colourIndex(Infinity, 0, 1)).toBe(255);
  });
  it("flags NaN and survives a degenerate range", () => {
    expect(colourIndex(NaN, 0, 1)).toBe(-1);
    expect(colourIndex(3, 2, 2)).toBe(0);
  });
});

describe("ColourTable", () => {
  const rgba = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) rgba.set([i, 255 - i, 7, 255], i * 4);
  const t = new ColourTable(rgba);
  it("looks values up through the table", () => {
    expect(t.colour(0, 0, 1, "grey")).toBe("rgba(0,255,7,1)");
    expect(t.colour(1, 0, 1, "grey")).toBe("rgba(255,0,7,1)");
    expect(t.colour(0.5, 0, 1, "grey")).toBe("rgba(128,127,7,1)");
    expect(t.colour(NaN, 0, 1, "grey")).toBe("grey");
  });
  it("falls back on a wrong-sized table", () => {
    expect(new ColourTable(new Uint8Array(12)).rgba.length).toBe(1024);
  });
});
