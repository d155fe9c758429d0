import { describe, expect, it } from "vitest";
import { controlHidden, createControls, targetOptions } from "../src/controls";
import { MENU_CONTROLS, type MenuControl } from "../src/protocol.gen";
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

// ---- the generic menus (MENU_CONTROLS) -----------------------------------------------------------
/** Just enough of a DOM for createControls (vitest runs in node). */
class FakeElement {
  tagName: string;
  className = "";
  textContent = "";
  title = "";
  value = "";
  disabled = false;
  type = "";
  children: FakeElement[] = [];
  dataset: Record<string, string> = {};
  attrs: Record<string, string> = {};
  listeners: Record<string, (() => void)[]> = {};
  classList = {
    add: (c: string) => this.setClass(c, true),
    toggle: (c: string, on: boolean) => this.setClass(c, on),
    contains: (c: string) => this.className.split(" ").includes(c),
  };
  constructor(tag: string) {
    this.tagName = tag.toUpperCase();
  }
  private setClass(c: string, on: boolean): void {
    const set = new Set(this.className.split(" ").filter(Boolean));
    if (on) set.add(c);
    else set.delete(c);
    this.className = [...set].join(" ");
  }
  setAttribute(k: string, v: string): void {
    this.attrs[k] = v;
  }
  append(...c: FakeElement[]): void {
    this.children.push(...c);
  }
  replaceChildren(...c: FakeElement[]): void {
    this.children = c;
  }
  addEventListener(type: string, f: () => void): void {
    (this.listeners[type] ??= []).push(f);
  }
  dispatch(type: string): void {
    for (const f of this.listeners[type] ?? []) f();
  }
  all(): FakeElement[] {
    return this.children.flatMap((c) => [c, ...c.all()]);
  }
}

function controlsWith(generic: readonly MenuControl[] = MENU_CONTROLS) {
  (globalThis as Record<string, unknown>).document = { createElement: (tag: string) => new FakeElement(tag) };
  const changes: Record<string, unknown>[] = [];
  const c = createControls({ change: (ch) => changes.push(ch), png: () => {} }, generic);
  const root = c.root as unknown as FakeElement;
  const select = (name: string) => root.all().find((e) => e.tagName === "SELECT" && e.dataset.control === name);
  const labelOf = (name: string) => root.children.find((l) => l.all().some((e) => e.dataset.control === name))!;
  return { c, root, changes, select, labelOf };
}

const FAKE: MenuControl = {
  name: "fake_fill" as ControlName,
  label: "fill",
  title: "a fake display menu",
  hidden_in: ["trust"],
  options: [["none", "no fill"], ["area", "area"]],
};

describe("generic display menus", () => {
  it("builds the protocol's menus in order after the hand-built ones, labelled, with their hooks", () => {
    const { root } = controlsWith();
    const hooks = root.children.slice(1).map((l) => l.all().find((e) => e.dataset.control)?.dataset.control);
    expect(hooks).toEqual(["method", "reduction", "target", "cmap", "norm", "view", "view_count", "mark", "series_view"]);
    const labels = root.children.slice(1).map((l) => l.children[0].textContent);
    expect(labels.slice(-2)).toEqual(["mark", "series"]);
  });
  it("builds a menu for an extra protocol entry: options, value, change, hidden where it does nothing", () => {
    const { c, changes, select, labelOf } = controlsWith([...MENU_CONTROLS, FAKE]);
    const s = select("fake_fill")!;
    expect(s).toBeDefined();
    expect(s.title).toBe("a fake display menu");
    expect(labelOf("fake_fill").children[0].textContent).toBe("fill");
    // no options trait entry: the generated values and labels
    c.update(model({ view: "single", fake_fill: "area", options: {} }));
    expect(s.children.map((o) => [o.value, o.textContent])).toEqual([["none", "no fill"], ["area", "area"]]);
    expect(s.value).toBe("area");
    expect(labelOf("fake_fill").classList.contains("tscam-hidden")).toBe(false);
    // the options trait, when Python sends the menu, wins
    c.update(model({ view: "single", fake_fill: "none", options: { fake_fill: [["none", "plain"], ["area", "area"]] } }));
    expect(s.children.map((o) => o.textContent)).toEqual(["plain", "area"]);
    s.value = "area";
    s.dispatch("change");
    expect(changes).toEqual([{ fake_fill: "area" }]);
    c.update(model({ view: "trust", fake_fill: "none" }));
    expect(labelOf("fake_fill").classList.contains("tscam-hidden")).toBe(true);
  });
  it("keeps the series menu hidden without an input series", () => {
    const { c, labelOf } = controlsWith();
    c.update(model({ view: "single", series_view: "original" }));
    expect(labelOf("series_view").classList.contains("tscam-hidden")).toBe(true);
    expect(labelOf("mark").classList.contains("tscam-hidden")).toBe(false);
    c.update(model({ view: "single", series_view: "original", input_series: input }));
    expect(labelOf("series_view").classList.contains("tscam-hidden")).toBe(false);
  });
});
