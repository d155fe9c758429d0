// The model interface an anywidget ESM module uses (get, set, on, off, save_changes, send),
// over a plain object: what the offline page gives the widget instead of a widget manager.
type Callback = (...args: unknown[]) => void;

export interface HostModel {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  save_changes(): void;
  send(content: unknown, callbacks?: unknown, buffers?: unknown[]): void;
  widget_manager: { get_model(id: string): Promise<unknown> };
}

/** A model over `state`. `set` fires "change:KEY" then "change" (as Backbone does) when the
 * value changed; `save_changes` and `send` have no kernel to reach, so they do nothing. */
export function createModel(state: Record<string, unknown>): HostModel {
  const listeners = new Map<string, Set<Callback>>();
  const emit = (event: string, ...args: unknown[]) => {
    for (const cb of Array.from(listeners.get(event) ?? [])) cb(...args);
  };
  const model: HostModel = {
    get: (key) => state[key],
    set: (key, value) => {
      if (Object.is(state[key], value)) return;
      state[key] = value;
      emit(`change:${key}`, model, value);
      emit("change", model);
    },
    on: (event, cb) => {
      for (const ev of event.split(/\s+/).filter(Boolean)) {
        let set = listeners.get(ev);
        if (!set) listeners.set(ev, (set = new Set()));
        set.add(cb);
      }
    },
    off: (event, cb) => {
      const events = event ? event.split(/\s+/).filter(Boolean) : Array.from(listeners.keys());
      for (const ev of events) {
        if (cb) listeners.get(ev)?.delete(cb);
        else listeners.delete(ev);
      }
    },
    save_changes: () => {},
    send: () => {},
    widget_manager: { get_model: async () => undefined },
  };
  return model;
}
