import { describe, expect, it } from "vitest";
import { formatTick, formatValue, niceStep, niceTicks } from "../src/axes";

describe("niceTicks", () => {
  it("picks 1/2/2.5/5 x 10^k steps and includes endpoints that are multiples", () => {
    expect(niceTicks(0, 150, 7)).toEqual([0, 25, 50, 75, 100, 125, 150]);
    expect(niceTicks(0, 150, 4)).toEqual([0, 50, 100, 150]);
    expect(niceTicks(0, 95, 6)).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(-2.3, 1.7, 5)).toEqual([-2, -1, 0, 1]);
    expect(niceTicks(0.1, 0.35, 6)).toEqual([0.1, 0.15, 0.2, 0.25, 0.3, 0.35]);
  });
  it("handles reversed, degenerate and non-finite ranges", () => {
    expect(niceTicks(10, 0, 3)).toEqual([0, 5, 10]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(niceTicks(NaN, 1)).toEqual([]);
  });
  it("never returns more than maxTicks", () => {
    expect(niceTicks(0, 1000, 3)).toEqual([0, 500, 1000]);
    expect(niceTicks(0, 1, 2)).toEqual([0, 1]);
  });
});

describe("labels", () => {
  it("niceStep", () => {
    expect(niceStep(23)).toBe(25);
    expect(niceStep(0.3)).toBe(0.5);
    expect(niceStep(7)).toBe(10);
  });
  it("formats ticks with the step's decimals", () => {
    expect(formatTick(0.1, [0.1, 0.15])).toBe("0.10");
    expect(formatTick(-0, [0, 1])).toBe("0");
    expect(formatTick(50, [0, 50])).toBe("50");
    expect(formatValue(0.97123)).toBe("0.971");
    expect(formatValue(0)).toBe("0");
    expect(formatValue(12345)).toBe("1.23e+4");
  });
});
