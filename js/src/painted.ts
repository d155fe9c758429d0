// The widget's one hook for pages, tests and benches: a `tscam:painted` event on the widget's
// root after every draw (docs/protocol.md, "The painted event"). It bubbles and is composed, so
// a listener on `document` hears it from inside a shadow root too (read the root from
// `event.composedPath()[0]` there). Nothing else in the DOM exists for tests.
import type { Rect } from "./layout";
import type { PanelHit } from "./render";

/** A plot area of the main canvas, in css px of that canvas. */
export interface PaintedPanel extends Rect {
  /** the first sample drawn in it (its position in the widget's sample set), -1 when none */
  sample: number;
  samples: number[];
  channel: number;
}

/** The trust view as drawn: its table cells and the two plot areas, in css px of its canvas. */
export interface PaintedTrust {
  state: string;
  cells: { table: string; layer: number; col: number; x: number; y: number; w: number; h: number }[];
  curves: Rect;
  depth: Rect;
  /** drawn points per curve: morf, lerf, random (the sample's) and the sample-mean ones, depth */
  points: Record<string, number>;
  selected: { layer: number; col: number };
}

export interface PaintedDetail {
  /** paints of this widget view so far, this one included (1, 2, ...) */
  n: number;
  /** performance.now() at the end of the draw, and the draw's own duration (ms) */
  t: number;
  ms: number;
  /** the picture shows maps matching the controls (false: "computing...", an old picture or none) */
  ready: boolean;
  /** the controls this paint read */
  controls: { layer: number; sample: number; view: string; view_count: number; method: string; reduction: string; target: string | number; norm: string; cmap: string; epoch?: number };
  /** plot areas of the map views (empty when none is drawn, e.g. in the trust view) */
  panels: PaintedPanel[];
  /** the colour bar and the value range it spans; null when no map view is drawn */
  colorbar: (Rect & { lo: number; hi: number }) | null;
  /** the trust view when it is shown, else null */
  trust: PaintedTrust | null;
  /** maps per channel as drawn; null when no map view is drawn */
  channels: PaintedChannels | null;
}

/** What the maps per channel and the channel bar show. */
export interface PaintedChannels {
  /** each channel's panel coloured by its own map */
  perChannel: boolean;
  /** the first sample's share of |attribution| per channel (the bar), null when none */
  share: number[] | null;
  /** the mean share over the listed samples (the line) and over how many; null when none */
  mean: number[] | null;
  count: number;
  /** several channels with one map for all: why (also in the status line); "" otherwise */
  note: string;
}

/** The channel part of the painted event for a scene. */
export function paintedChannels(scene: { perChannel: boolean; samples: { share: Float32Array | null }[]; meanShare: { share: Float32Array; count: number } | null; channelNote: string }): PaintedChannels {
  const first = scene.samples[0]?.share ?? null;
  return {
    perChannel: scene.perChannel,
    share: first ? Array.from(first) : null,
    mean: scene.meanShare ? Array.from(scene.meanShare.share) : null,
    count: scene.meanShare?.count ?? 0,
    note: scene.channelNote,
  };
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export const rounded = (r: Rect): Rect => ({ x: r1(r.x), y: r1(r.y), w: r1(r.w), h: r1(r.h) });

export function paintedPanels(hits: PanelHit[]): PaintedPanel[] {
  return hits.map((h) => ({
    ...rounded(h.rect),
    sample: h.samples[0]?.n ?? -1,
    samples: h.samples.map((s) => s.n),
    channel: h.channel,
  }));
}

export function emitPainted(root: HTMLElement, detail: PaintedDetail): void {
  root.dispatchEvent(new CustomEvent<PaintedDetail>("tscam:painted", { detail, bubbles: true, composed: true }));
}
