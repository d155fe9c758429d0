// Hover tooltip text: time index, value per channel, CAM value, for the panel under the mouse.
import { formatValue } from "./axes";
import type { PanelHit } from "./render";

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

export function tooltipLines(h: PanelHit, t: number): string[] {
  const lines = [`t = ${t}`];
  const many = h.samples.length > 1;
  for (const s of h.samples) {
    const pre = many ? `#${s.id} ` : "";
    const C = s.channels.length;
    const vals = s.channels.map((ch, c) => (C > 1 ? `ch${c} ` : "value ") + formatValue(ch[t]));
    lines.push(pre + vals.join(", "));
    lines.push(`${pre}CAM ${s.map ? formatValue(s.map[t]) : "–"}`);
  }
  return lines;
}
