// The play button's clock: while `playing`, step `layer` (wrapping) every play_interval_ms.
// Lives in initialize (once per model), so several views of one widget never double-step.
import type { AnyModel } from "@anywidget/types";
import type { CamTraits } from "./types";

export function nextLayer(layer: number, count: number): number {
  return count > 0 ? (((layer | 0) + 1) % count + count) % count : 0;
}

export function startPlayer(model: AnyModel<CamTraits>): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const stop = () => {
    if (timer != null) clearTimeout(timer);
    timer = null;
  };
  const tick = () => {
    timer = null;
    if (!model.get("playing")) return;
    model.set("layer", nextLayer(model.get("layer"), (model.get("layers") ?? []).length));
    model.save_changes();
    schedule();
  };
  const schedule = () => {
    stop();
    if (model.get("playing")) timer = setTimeout(tick, Math.max(50, model.get("play_interval_ms")));
  };
  model.on("change:playing", schedule);
  schedule();
  return () => {
    stop();
    model.off("change:playing", schedule);
  };
}
