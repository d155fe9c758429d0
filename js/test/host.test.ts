import { describe, expect, it } from "vitest";
import { createModel } from "../host/model";

describe("offline host model", () => {
  it("gets, sets and fires change:KEY then change, only on a real change", () => {
    const m = createModel({ layer: 1, sample: 0 });
    const seen: string[] = [];
    const onLayer = (_m: unknown, v: unknown) => seen.push(`layer=${v}`);
    m.on("change:layer", onLayer);
    m.on("change", () => seen.push("change"));
    m.set("layer", 2);
    m.set("layer", 2); // no change: no event
    m.set("sample", 5);
    expect(m.get("layer")).toBe(2);
    expect(seen).toEqual(["layer=2", "change", "change"]);
    m.off("change:layer", onLayer);
    m.set("layer", 3);
    expect(seen).toEqual(["layer=2", "change", "change", "change"]);
    m.off(); // everything
    m.set("layer", 4);
    expect(seen.length).toBe(4);
    expect(() => { m.save_changes(); m.send({ x: 1 }); }).not.toThrow();
  });
});
