// The sample menu: filter by true / predicted class or by mistakes, sort by confidence, step
// through the listed samples; works from the predictions as they arrive (and says so while they
// are still filling in; a sample whose series holds NaN or inf never gets one: y_pred_buffer -2, listed
// as such, never a mistake, sorted last). The same rules as tscam_widget/widget/samples.py.
import { decodeCached } from "./buffers";
import { NON_FINITE, SAMPLE_FILTER_VALUES, SAMPLE_SORT_VALUES } from "./protocol.gen";
import type { CamTraits, TraitReader } from "./types";

export interface SampleQuery {
  filter: string; // "all" | "mistakes" | "correct"
  trueClass: number; // -1: any
  predClass: number; // -1: any
  sort: string; // "index" | "confidence" (least sure first) | "-confidence"
}

type Ints = ArrayLike<number>;

/** Probability of each sample's predicted class (NaN where not predicted yet). */
export function confidences(yPred: Ints, probs: Ints, K: number): Float64Array {
  const out = new Float64Array(yPred.length).fill(NaN);
  for (let n = 0; n < yPred.length; n++) {
    const p = yPred[n];
    if (p >= 0 && K > 0 && n * K + p < probs.length) out[n] = probs[n * K + p];
  }
  return out;
}

/** The samples listed under `q`, in order. */
export function sampleList(yTrue: Ints, yPred: Ints, probs: Ints, K: number, q: SampleQuery): number[] {
  const N = Math.max(yTrue.length, yPred.length);
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    const t = n < yTrue.length ? yTrue[n] : -1;
    const p = n < yPred.length ? yPred[n] : -1;
    if (q.filter === "mistakes" && !(p >= 0 && t >= 0 && t !== p)) continue;
    if (q.filter === "correct" && !(p >= 0 && t >= 0 && t === p)) continue;
    if (q.trueClass >= 0 && t !== q.trueClass) continue;
    if (q.predClass >= 0 && p !== q.predClass) continue;
    out.push(n);
  }
  if (q.sort === "confidence" || q.sort === "-confidence") {
    const c = confidences(yPred, probs, K);
    const sign = q.sort === "confidence" ? 1 : -1;
    const key = (n: number) => (Number.isFinite(c[n]) ? sign * c[n] : Infinity);
    out.sort((a, b) => key(a) - key(b) || a - b);
  }
  return out;
}

export function queryOf(m: TraitReader): SampleQuery {
  return {
    filter: m.get("sample_filter") ?? "all",
    trueClass: m.get("filter_true") ?? -1,
    predClass: m.get("filter_pred") ?? -1,
    sort: m.get("sample_sort") ?? "index",
  };
}

export function isFiltered(q: SampleQuery): boolean {
  return q.filter !== "all" || q.trueClass >= 0 || q.predClass >= 0 || q.sort !== "index";
}

export { NON_FINITE };

/** How many samples have a prediction so far. */
export function predictedCount(yPred: Ints): number {
  let k = 0;
  for (let n = 0; n < yPred.length; n++) if (yPred[n] >= 0) k++;
  return k;
}

/** How many samples never get a prediction (NaN or inf in their series). */
export function nonFiniteCount(yPred: Ints): number {
  let k = 0;
  for (let n = 0; n < yPred.length; n++) if (yPred[n] === NON_FINITE) k++;
  return k;
}

/** Whether the predictions are still filling in: some sample of `N` has neither a prediction
 * nor the mark of a non-finite series. */
export function predictionsFilling(yPred: Ints, N: number): boolean {
  return predictedCount(yPred) + nonFiniteCount(yPred) < N;
}

let memo: { key: unknown[]; list: number[] } | null = null;
/** The current list (recomputed only when the predictions or the query change). */
export function currentList(m: TraitReader): number[] {
  const q = queryOf(m);
  const key = [m.get("y_true_buffer"), m.get("y_pred_buffer"), m.get("probs_buffer"), q.filter, q.trueClass, q.predClass, q.sort];
  if (memo && memo.key.length === key.length && memo.key.every((v, i) => v === key[i])) return memo.list;
  const yTrue = decodeCached(m.get("y_true_buffer"))?.data ?? new Int32Array(0);
  const yPred = decodeCached(m.get("y_pred_buffer"))?.data ?? new Int32Array(0);
  const probs = decodeCached(m.get("probs_buffer"));
  const K = probs && probs.shape.length === 2 ? probs.shape[1] : 0;
  const list = sampleList(yTrue, yPred, probs?.data ?? new Float32Array(0), K, q);
  memo = { key, list };
  return list;
}

/** The sample `dir` steps (+1 / -1) from `current` in the listed order (when filtered) or by
 * index; stays put at either end. */
export function stepSample(m: TraitReader, current: number, dir: number): number {
  const N = m.get("n_samples") ?? 0;
  if (!isFiltered(queryOf(m))) return Math.min(Math.max(0, current + dir), Math.max(0, N - 1));
  const list = currentList(m);
  if (!list.length) return current;
  const at = list.indexOf(current);
  if (at < 0) return list[dir > 0 ? 0 : list.length - 1];
  return list[Math.min(Math.max(0, at + dir), list.length - 1)];
}

/** The trait changes a "show" menu value stands for. */
export function showChanges(v: string): Partial<CamTraits> {
  const [kind, k] = v.split(":");
  if (kind === "true") return { sample_filter: "all", filter_true: Number(k), filter_pred: -1 };
  if (kind === "pred") return { sample_filter: "all", filter_true: -1, filter_pred: Number(k) };
  return { sample_filter: kind, filter_true: -1, filter_pred: -1 };
}

/** The "show" menu value of the current traits ("custom" for a combination it does not list). */
export function showValue(q: SampleQuery): string {
  if (q.trueClass >= 0 && q.predClass < 0 && q.filter === "all") return `true:${q.trueClass}`;
  if (q.predClass >= 0 && q.trueClass < 0 && q.filter === "all") return `pred:${q.predClass}`;
  if (q.trueClass < 0 && q.predClass < 0) return q.filter;
  return "custom";
}

const SORT_LABELS: Record<(typeof SAMPLE_SORT_VALUES)[number], string> = {
  index: "by index", confidence: "least confident first", "-confidence": "most confident first",
};
export const SORTS: [string, string][] = SAMPLE_SORT_VALUES.map((v) => [v, SORT_LABELS[v]]);
const FILTER_LABELS: Record<(typeof SAMPLE_FILTER_VALUES)[number], string> = {
  all: "all samples", mistakes: "mistakes", correct: "correct",
};
const MAX_ITEMS = 400; // the list menu names this many samples (the arrows step through all)

export interface SampleMenu {
  root: HTMLElement;
  update(m: TraitReader): void;
}

function select(name: string, title: string): HTMLSelectElement {
  const s = document.createElement("select");
  s.setAttribute("data-lm-suppress-shortcuts", "");
  s.dataset.control = name;
  s.title = title;
  return s;
}

function fill(s: HTMLSelectElement, opts: [string, string][], value: string): void {
  const key = JSON.stringify(opts);
  if (s.dataset.key !== key) {
    s.replaceChildren(...opts.map(([v, l]) => Object.assign(document.createElement("option"), { value: v, textContent: l })));
    s.dataset.key = key;
  }
  if (s.value !== value) s.value = value;
}

/** The menu row: show (filter), sort, the listed samples, ◀ ▶ and a note. `change` sets traits
 * (and moves to the first listed sample when the current one is not listed). */
export function createSampleMenu(change: (c: Partial<CamTraits>) => void, read: () => TraitReader): SampleMenu {
  const root = document.createElement("span");
  root.className = "tscam-samples";
  const show = select("sample_filter", "which samples to list: all, the mistakes, by true or predicted class");
  const sort = select("sample_sort", "order of the listed samples (confidence: the predicted class's probability)");
  const list = select("sample_list", "the listed samples: true → predicted class (confidence)");
  const prev = Object.assign(document.createElement("button"), { textContent: "◀", title: "previous listed sample" });
  const next = Object.assign(document.createElement("button"), { textContent: "▶", title: "next listed sample" });
  list.style.maxWidth = "22em";
  prev.dataset.control = "sample_prev";
  next.dataset.control = "sample_next";
  const note = document.createElement("span");
  note.className = "tscam-muted tscam-samples-note";
  const label = document.createElement("span");
  label.className = "tscam-muted";
  label.textContent = "show";
  root.append(label, show, sort, prev, list, next, note);

  const withFirst = (c: Partial<CamTraits>) => {
    const m = read();
    const probe: TraitReader = { get: (k) => (k in c ? (c as never)[k] : m.get(k)) };
    const shown = currentList(probe);
    if (shown.length && !shown.includes(m.get("sample"))) c = { ...c, sample: shown[0] };
    change(c);
  };
  show.addEventListener("change", () => { if (show.value !== "custom") withFirst(showChanges(show.value)); });
  sort.addEventListener("change", () => withFirst({ sample_sort: sort.value }));
  list.addEventListener("change", () => change({ sample: Number(list.value) }));
  prev.addEventListener("click", () => { const m = read(); change({ sample: stepSample(m, m.get("sample"), -1) }); });
  next.addEventListener("click", () => { const m = read(); change({ sample: stepSample(m, m.get("sample"), 1) }); });

  function update(m: TraitReader): void {
    const classes = m.get("classes") ?? [];
    const q = queryOf(m);
    const opts: [string, string][] = SAMPLE_FILTER_VALUES.map((v) => [v, FILTER_LABELS[v]]);
    classes.forEach((c, k) => opts.push([`true:${k}`, `true: ${c}`]));
    classes.forEach((c, k) => opts.push([`pred:${k}`, `predicted: ${c}`]));
    const cur = showValue(q);
    if (cur === "custom") opts.push(["custom", "custom filter"]);
    fill(show, opts, cur);
    fill(sort, SORTS, q.sort);
    const shown = currentList(m);
    const yTrue = decodeCached(m.get("y_true_buffer"))?.data ?? [];
    const yPred = decodeCached(m.get("y_pred_buffer"))?.data ?? [];
    const probs = decodeCached(m.get("probs_buffer"));
    const K = probs && probs.shape.length === 2 ? probs.shape[1] : 0;
    const ids = decodeCached(m.get("sample_ids"))?.data;
    const s = m.get("sample") | 0;
    const name = (k: number) => (k >= 0 ? classes[k] ?? String(k) : k === NON_FINITE ? "NaN/inf, no prediction" : "?");
    const item = (n: number): [string, string] => {
      const p = n < yPred.length ? yPred[n] : -1;
      const c = p >= 0 && probs?.data ? ` (${(probs.data[n * K + p] as number).toFixed(2)})` : "";
      const id = ids && n < ids.length ? ids[n] : n;
      return [String(n), `#${id} ${name(n < yTrue.length ? yTrue[n] : -1)} → ${name(p)}${c}`];
    };
    let items = shown.slice(0, MAX_ITEMS);
    if (!items.includes(s)) items = [s, ...items];
    fill(list, items.map(item), String(s));
    const N = m.get("n_samples") ?? 0;
    const done = predictedCount(yPred);
    const bad = nonFiniteCount(yPred);
    const filling = predictionsFilling(yPred, N);
    const parts: string[] = [];
    if (isFiltered(q)) parts.push(`${shown.length} listed`);
    if (filling) parts.push(`predictions filling in: ${done} / ${N - bad}`);
    if (bad) parts.push(`${bad} with NaN/inf: no prediction`);
    note.textContent = parts.join(" · ");
    note.dataset.filling = filling ? "1" : "0";
  }

  return { root, update };
}
