// Hover tooltip text: time index, value per channel, CAM value, for the panel under the mouse.
import { formatValue } from "./axes";
import { memo } from "./memo";
import type { PanelHit } from "./render";

/** Largest error of a decoded value, as a fraction of its map's range, per precision. */
export const QUANTUM: Record<string, number> = { uint8: 0.5 / 255, float16: 2 ** -11 };

/** "±0.0020 (uint8)": how far a hovered CAM value may be from the computed one. */
export function quantisation(map: Float32Array, precision: string): string {
  const q = QUANTUM[precision];
  if (!q) return "";
  const [lo, hi] = memo(map, "qextent", () => {
    let a = Infinity;
    let b = -Infinity;
    for (let i = 0; i < map.length; i++) { const v = map[i]; if (v < a) a = v; if (v > b) b = v; }
    return [a, b] as [number, number];
  });
  if (!(hi >= lo)) return "";
  return ` ±${formatValue((hi - lo) * q)} (${precision}, quantised)`;
}

export function panelAt(hits: PanelHit[], x: number, y: number): PanelHit | null {
  for (const h of hits) {
    const r = h.rect;
    if (x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h) return h;
  }
  return null;
}

/** Nearest time index to x within the panel. */
export function timeAt(h: PanelHit, x: number): number {
  if (h.T <= 1) return 0;
  const t = Math.round(((x - h.rect.x) / h.rect.w) * (h.T - 1));
  return Math.min(h.T - 1, Math.max(0, t));
}

export function tooltipLines(h: PanelHit, t: number, precision = "float32"): string[] {
  const lines = [`t = ${t}`];
  const many = h.samples.length > 1;
  for (const s of h.samples) {
    const pre = many ? `#${s.id} ` : "";
    const C = s.channels.length;
    const vals = s.channels.map((ch, c) => (C > 1 ? `ch${c} ` : "value ") + formatValue(ch[t]));
    lines.push(pre + vals.join(", "));
    const map = s.channelMaps?.[h.channel] ?? s.map;
    const q = map && !Number.isNaN(map[t]) ? quantisation(map, precision) : "";
    const what = s.channelMaps ? `CAM ch${h.channel}` : "CAM";
    lines.push(`${pre}${what} ${map ? formatValue(map[t]) : "–"}${q}`);
  }
  return lines;
}
