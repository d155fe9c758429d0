// The offline page's host: reads the embedded widget state (buffers base64, optionally deflated
// and delta-coded), imports the widget's ESM module from a blob: URL and renders it with a
// minimal model (./model.ts). No widget manager, no network.
import { undelta } from "../src/buffers";
import { createModel } from "./model";

interface Encoded {
  b64: string;
  z?: "deflate" | null; // CompressionFormat of DecompressionStream
  delta?: number; // bytes were delta-coded (mod 256) along runs of this length
}

interface PageSpec {
  state: Record<string, unknown>;
  buffers: { path: (string | number)[]; data: Encoded }[];
  esm: Encoded;
}

async function bytesOf(e: Encoded): Promise<Uint8Array> {
  const bin = atob(e.b64);
  let out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (e.z) {
    const stream = new Blob([out]).stream().pipeThrough(new DecompressionStream(e.z));
    out = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  return undelta(out, e.delta ?? 0);
}

function put(obj: Record<string | number, unknown>, path: (string | number)[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1]] = value;
}

async function mount(spec: PageSpec, el: HTMLElement): Promise<void> {
  const state = spec.state;
  await Promise.all(spec.buffers.map(async (b) => {
    const bytes = await bytesOf(b.data);
    put(state, b.path, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }));
  const source = new TextDecoder().decode(await bytesOf(spec.esm));
  const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
  const mod = await import(/* @vite-ignore */ url);
  URL.revokeObjectURL(url);
  const widget = mod.default ?? mod;
  const model = createModel({ ...state, offline: true });
  await widget.initialize?.({ model });
  await widget.render?.({ model, el });
}

for (const node of Array.from(document.querySelectorAll<HTMLScriptElement>("script[type='application/vnd.tscam-widget+json']"))) {
  const el = document.createElement("div");
  el.className = "tscam-host";
  node.after(el);
  mount(JSON.parse(node.textContent ?? "{}"), el).catch((e) => {
    el.textContent = `tscam-widget: could not show the widget: ${e?.message ?? e}`;
    console.error(e);
  });
}
