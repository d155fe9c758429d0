// DOM controls: play, layer slider, menus, sample slider + number box, PNG button.
import { decodeCached } from "./buffers";
import { HIDDEN_IN, MENU_CONTROLS, NAMED_TARGETS, type MenuControl } from "./protocol.gen";
import { currentSnapshot, epochOf, metricsText, sliderPosition, snapshotCount } from "./timeline";
import type { CamTraits, ControlName, TraitReader } from "./types";

export interface ControlEvents {
  change(changes: Partial<CamTraits>): void;
  png(): void;
}

export interface Controls {
  root: HTMLElement;
  update(m: TraitReader): void;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  // JupyterLab's command-mode shortcuts match a focused input itself (before any ancestor's
  // data-lm-suppress-shortcuts), so every control carries the attribute
  if (tag === "input" || tag === "select" || tag === "button") e.setAttribute("data-lm-suppress-shortcuts", "");
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function labelled(text: string, control: HTMLElement, cls = ""): HTMLLabelElement {
  const l = el("label", cls);
  l.append(el("span", "tscam-muted", text), control);
  return l;
}

type Option = [value: string, label: string, disabled?: boolean];

/** Write a text only when it changed: an equal write still replaces the node and makes the
 * next frame lay the controls out again (costly in a large page such as JupyterLab's). */
export function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

/** Replace a select's options only when they changed (keeps the open menu stable). */
function setOptions(s: HTMLSelectElement, opts: Option[], value: string): void {
  const key = JSON.stringify(opts);
  if (s.dataset.key !== key) {
    s.replaceChildren(...opts.map(([v, l, off]) => Object.assign(el("option"), { value: v, textContent: l, disabled: !!off })));
    s.dataset.key = key;
  }
  if (s.value !== value) s.value = value;
}

/** The menu of a control as Python defines it (the `options` trait, widget/options.py). */
export function menu(m: TraitReader, control: string): Option[] {
  return ((m.get("options") ?? {})[control] ?? []).map(([v, l]): Option => [v, l]);
}

/** Whether a control is hidden now: it does nothing in the current view (HIDDEN_IN, from the
 * `hidden_in` of widget/protocol.py: the display controls in the trust view, the count in the
 * single view), or it offers nothing (a reduction for a method without one, the series menu
 * without an input series). */
export function controlHidden(m: TraitReader, name: ControlName): boolean {
  if (HIDDEN_IN[name]?.includes(m.get("view"))) return true;
  if (name === "reduction") return !(m.get("reduction_methods") ?? []).includes(m.get("method"));
  if (name === "series_view") {
    const inp = m.get("input_series");
    return !inp || !(inp.shape?.[0] > 0);
  }
  return false;
}

/** The target menu: Python's named targets (NAMED_TARGETS, labelled by the `options` trait),
 * then one entry per class. */
export function targetOptions(m: TraitReader, classes: string[]): Option[] {
  const labels = new Map(menu(m, "target").map(([v, l]) => [v, l]));
  const named = NAMED_TARGETS.map((v): Option => [v, labels.get(v) ?? v]);
  return [...named, ...classes.map((c, i): Option => [String(i), c])];
}

/** Offline (no kernel to compute more): which class targets have a map for every sample that
 * has any (cube_rows [N, K]); null when every entry works. */
export function classesAvailable(m: TraitReader): boolean[] | null {
  if (!m.get("offline") || !m.get("precomputed")) return null;
  const rows = decodeCached(m.get("cube_rows"));
  if (!rows || rows.shape.length !== 2) return null;
  const [N, K] = rows.shape;
  const ok = new Array<boolean>(K).fill(true);
  for (let n = 0; n < N; n++) {
    let any = false;
    for (let k = 0; k < K; k++) if (rows.data[n * K + k] >= 0) any = true;
    if (any) for (let k = 0; k < K; k++) if (rows.data[n * K + k] < 0) ok[k] = false;
  }
  return ok;
}

/** A target menu value back to the trait: class indices travel as numbers. */
export function parseTarget(v: string): string | number {
  return /^\d+$/.test(v) ? Number(v) : v;
}

/** A generic display-only menu (MENU_CONTROLS, from widget/protocol.py's `Menu`): a labelled
 * select that writes its trait, hidden where HIDDEN_IN / controlHidden say. */
interface GenericMenu {
  spec: MenuControl;
  select: HTMLSelectElement;
  label: HTMLLabelElement;
}

function genericMenu(spec: MenuControl, ev: ControlEvents): GenericMenu {
  const select = el("select");
  if (spec.title) select.title = spec.title;
  select.dataset.control = spec.name; // stable hook for tests
  select.addEventListener("change", () => ev.change({ [spec.name]: select.value }));
  return { spec, select, label: labelled(spec.label, select) };
}

/** The controls row; `generic` lists the menus built from the protocol (default: the generated
 * MENU_CONTROLS), after the hand-built ones. */
export function createControls(ev: ControlEvents, generic: readonly MenuControl[] = MENU_CONTROLS): Controls {
  const root = el("div", "tscam-controls");
  const play = el("button", "tscam-play", "▶");
  play.title = "play / pause through the layers (space)";
  const layer = Object.assign(el("input"), { type: "range", min: "0", step: "1" });
  layer.setAttribute("aria-label", "layer");
  const layerName = el("span", "tscam-layer-name");
  const layerRow = el("span", "tscam-layer");
  layerRow.append(el("span", "tscam-muted", "layer"), layer, layerName);
  // the training timeline: shown once there are snapshots; "now" (the current weights) at its end
  const epoch = Object.assign(el("input"), { type: "range", min: "0", step: "1" });
  epoch.setAttribute("aria-label", "epoch");
  const epochName = el("span", "tscam-epoch-name");
  const epochRow = el("span", "tscam-epoch tscam-hidden");
  epochRow.append(el("span", "tscam-muted", "epoch"), epoch, epochName);
  const method = el("select");
  const reduction = el("select");
  const target = el("select");
  const cmap = el("select");
  const norm = el("select");
  const view = el("select");
  const viewCount = Object.assign(el("input"), { type: "number", min: "1", max: "64", step: "1" });
  const sample = Object.assign(el("input"), { type: "range", min: "0", step: "1" });
  sample.setAttribute("aria-label", "sample");
  const sampleBox = Object.assign(el("input"), { type: "number", min: "0", step: "1" });
  sampleBox.setAttribute("aria-label", "sample number");
  const sampleInfo = el("span", "tscam-muted tscam-sample-info");
  const sampleRow = el("span", "tscam-sample");
  sampleRow.append(el("span", "tscam-muted", "sample"), sample, sampleBox, sampleInfo);
  const png = el("button", "tscam-png", "PNG");
  png.title = "download the current view as PNG";
  const reductionLabel = labelled("reduction", reduction);
  const countLabel = labelled("n", viewCount);
  // navigation keeps its line (fixed widths: nothing moves as names change); the menus wrap
  const nav = el("span", "tscam-nav");
  nav.append(play, layerRow, epochRow, sampleRow, png);
  const generics = generic.map((spec) => genericMenu(spec, ev));
  // the labelled menus by their trait: each hides where controlHidden says it does nothing
  const menus: [ControlName, HTMLLabelElement][] = [
    ["method", labelled("method", method)], ["reduction", reductionLabel], ["target", labelled("target", target)],
    ["cmap", labelled("colours", cmap)], ["norm", labelled("norm", norm)], ["view", labelled("view", view)],
    ["view_count", countLabel], ...generics.map((g): [ControlName, HTMLLabelElement] => [g.spec.name, g.label]),
  ];
  root.append(nav, ...menus.map(([, l]) => l));

  const int = (s: string) => Math.floor(Number(s));
  // a number box follows the model except while the user is typing in it (between an input
  // event and its change or blur), whether or not it keeps the focus afterwards
  const editing = new Set<HTMLInputElement>();
  for (const box of [sampleBox, viewCount]) {
    box.addEventListener("input", () => editing.add(box));
    box.addEventListener("blur", () => editing.delete(box));
  }
  play.addEventListener("click", () => ev.change({ playing: play.dataset.playing !== "1" }));
  layer.addEventListener("input", () => ev.change({ layer: int(layer.value) }));
  sample.addEventListener("input", () => ev.change({ sample: int(sample.value) }));
  epoch.addEventListener("input", () => ev.change({ epoch: epochOf(int(epoch.value), int(epoch.max)) }));
  sampleBox.addEventListener("change", () => {
    editing.delete(sampleBox);
    const n = int(sampleBox.value);
    if (Number.isFinite(n)) ev.change({ sample: Math.min(Math.max(0, n), int(sample.max)) });
  });
  method.addEventListener("change", () => ev.change({ method: method.value }));
  reduction.addEventListener("change", () => ev.change({ reduction: reduction.value }));
  target.addEventListener("change", () => ev.change({ target: parseTarget(target.value) }));
  cmap.addEventListener("change", () => ev.change({ cmap: cmap.value }));
  norm.addEventListener("change", () => ev.change({ norm: norm.value }));
  view.addEventListener("change", () => ev.change({ view: view.value }));
  viewCount.addEventListener("change", () => {
    editing.delete(viewCount);
    const n = int(viewCount.value);
    if (n >= 1) ev.change({ view_count: n });
  });
  png.addEventListener("click", () => ev.png());
  // the hooks carry the control's trait name (ControlName, generated), or the button's own
  const named: [ControlName | "play" | "sample-box" | "png", HTMLElement][] = [
    ["play", play], ["layer", layer], ["epoch", epoch], ["sample", sample], ["sample-box", sampleBox], ["method", method],
    ["reduction", reduction], ["target", target], ["cmap", cmap], ["norm", norm], ["view", view],
    ["view_count", viewCount], ["png", png],
  ];
  for (const [name, node] of named) node.dataset.control = name; // stable hooks for tests

  function update(m: TraitReader): void {
    const layers = m.get("layers") ?? [];
    const L = layers.length;
    const li = Math.min(Math.max(0, m.get("layer") | 0), Math.max(0, L - 1));
    layer.max = String(Math.max(0, L - 1));
    if (layer.value !== String(li)) layer.value = String(li);
    const layout = (m.get("layer_layouts") ?? [])[li];
    // the layout is named where it is not the plain conv one
    const shown = layout && layout !== "NCT" ? `${layers[li]} · ${layout}` : layers[li];
    setText(layerName, L ? `${shown} (${li + 1}/${L})` : "–");
    // fixed width (CSS): a long name is cut with an ellipsis, the whole of it on hover
    layerName.title = layout ? `${layers[li]}: output read as ${layout}` : (layers[li] ?? "");
    const E = snapshotCount(m);
    epochRow.classList.toggle("tscam-hidden", E === 0);
    if (E > 0) {
      const e = currentSnapshot(m);
      epoch.max = String(E);
      const pos = String(sliderPosition(e, E));
      if (epoch.value !== pos) epoch.value = pos;
      const meta = m.get("timeline_meta") ?? {};
      const label = e >= 0 ? (meta.labels?.[e] ?? `snapshot ${e + 1}`) : "now";
      setText(epochName, e >= 0 ? `${label} (${e + 1}/${E})` : "now");
      const metrics = e >= 0 ? metricsText(meta.metrics?.[e]) : "";
      epochName.title = e >= 0 ? `${label}${metrics ? `: ${metrics}` : ""}` : "the current weights (drag left to go back through training)";
    }
    const playing = !!m.get("playing");
    play.dataset.playing = playing ? "1" : "0";
    setText(play, playing ? "❚❚" : "▶");
    const labels = m.get("method_labels") ?? {};
    const costs = m.get("method_costs") ?? {};
    setOptions(method, (m.get("methods") ?? []).map((k): Option => [k, costs[k] ? `${labels[k] ?? k} (${costs[k]})` : labels[k] ?? k]), m.get("method"));
    setOptions(reduction, (m.get("reductions") ?? []).map((r): Option => [r, r]), m.get("reduction"));
    const avail = classesAvailable(m);
    const topts = targetOptions(m, m.get("classes") ?? []).map(([v, l], i): Option =>
      avail && i >= NAMED_TARGETS.length && !avail[i - NAMED_TARGETS.length] ? [v, `${l} (needs a kernel)`, true] : [v, l]);
    setOptions(target, topts, String(m.get("target")));
    target.title = avail && avail.some((a) => !a)
      ? 'class targets need a kernel, or save_html(targets="all")' : "the class each map explains";
    const cmaps = m.get("cmaps") ?? [];
    const cur = m.get("cmap");
    setOptions(cmap, (cmaps.includes(cur) || !cur ? cmaps : [cur, ...cmaps]).map((c): Option => [c, c]), cur);
    setOptions(norm, menu(m, "norm"), m.get("norm"));
    setOptions(view, menu(m, "view"), m.get("view"));
    if (!editing.has(viewCount)) viewCount.value = String(m.get("view_count") ?? 4);
    for (const { spec, select } of generics) {
      // the options trait when Python sent it, else the generated values
      const opts = menu(m, spec.name);
      setOptions(select, opts.length ? opts : spec.options.map(([v, l]): Option => [v, l]), String(m.get(spec.name)));
    }
    for (const [name, label] of menus) label.classList.toggle("tscam-hidden", controlHidden(m, name));
    for (const { spec, label } of generics) if (spec.hidden_in.includes(m.get("view"))) label.classList.add("tscam-hidden");
    const N = m.get("n_samples") ?? 0;
    const s = m.get("sample") | 0;
    sample.max = String(Math.max(0, N - 1));
    sampleBox.max = sample.max;
    if (sample.value !== String(s)) sample.value = String(s);
    if (!editing.has(sampleBox) && sampleBox.value !== String(s)) sampleBox.value = String(s);
    const ids = decodeCached(m.get("sample_ids"))?.data;
    setText(sampleInfo, `of ${N}` + (ids && s < ids.length ? ` (id ${ids[s]})` : ""));
  }

  return { root, update };
}
