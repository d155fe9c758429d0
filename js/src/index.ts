// anywidget entry: initialize (the play clock) and render (DOM, observers, one draw per frame).
import type { AnyModel, Initialize, Render } from "@anywidget/types";
import { decodeCached } from "./buffers";
import { ColourTable } from "./colour";
import { createControls, setText } from "./controls";
import { panelAt, timeAt, tooltipLines } from "./hover";
import { startPlayer } from "./player";
import { drawScene, MARGIN, sceneLayout, type PanelHit } from "./render";
import { buildScene, isNanMap, type Scene } from "./scene";
import { plotWidth } from "./layout";
import { setControls } from "./state";
import { drawStrip, stripGeometry, stripLayerAt, type StripGeometry } from "./strip";
import { CSS } from "./style";
import { isDarkColour, readTheme, type Theme } from "./theme";
import type { CamTraits } from "./types";
import { maskRow } from "./band";
import { createTrustPane, randomisedReader } from "./trust";
import { emitPainted, paintedPanels, rounded, type PaintedDetail } from "./painted";

type Model = AnyModel<CamTraits>;

const tables = new WeakMap<object, ColourTable>();
let fallback: ColourTable | null = null;

/** One ColourTable per `cmap_table` value (rebuilt only when Python sends a new one). */
function tableFor(rgba: Uint8Array | undefined): ColourTable {
  if (!rgba) return (fallback ??= new ColourTable(null));
  let t = tables.get(rgba);
  if (!t) tables.set(rgba, (t = new ColourTable(rgba)));
  return t;
}

const planar = new WeakMap<object, Map<string, Uint8Array>>();
/** The RGBA table of the current colour map: from the offline page's `cmap_tables` (every
 * table of the menu, channel-planar [n, 4, 256]) when it has it, else Python's `cmap_table`. */
function currentTable(m: Model): Uint8Array | undefined {
  const all = m.get("cmap_tables");
  const name = m.get("cmap");
  const i = all?.names?.indexOf(name) ?? -1;
  if (all && i >= 0) {
    let cache = planar.get(all);
    if (!cache) planar.set(all, (cache = new Map()));
    let t = cache.get(name);
    const p = decodeCached(all.planar)?.data as Uint8Array | undefined;
    if (!t && p) {
      t = new Uint8Array(1024);
      for (let k = 0; k < 256; k++) for (let c = 0; c < 4; c++) t[k * 4 + c] = p[(i * 4 + c) * 256 + k];
      cache.set(name, t);
    }
    if (t) return t;
  }
  return decodeCached(m.get("cmap_table"))?.data as Uint8Array | undefined;
}

const initialize: Initialize<CamTraits> = ({ model }) => startPlayer(model);

/** Size a canvas for css width x height at the device pixel ratio; returns its 2-d context. */
function sizeCanvas(c: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  const W = Math.max(1, Math.round(w * dpr));
  const H = Math.max(1, Math.round(h * dpr));
  if (c.width !== W || c.height !== H) {
    c.width = W;
    c.height = H;
    c.style.width = `${w}px`;
    c.style.height = `${h}px`;
  }
  const ctx = c.getContext("2d");
  ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function nanNote(m: Model, scene: Scene): string | null {
  if (!scene.samples.some((s) => isNanMap(s.map))) return null;
  const label = (m.get("method_labels") ?? {})[m.get("method")] ?? m.get("method");
  return `${label} is not defined for layer ${scene.layerNames[scene.layer] ?? scene.layer}: series drawn in grey`;
}

const render: Render<CamTraits> = ({ model, el }) => {
  const m = model as Model;
  const root = document.createElement("div");
  root.className = "tscam-root";
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab: keys stay in the widget
  const style = document.createElement("style");
  style.textContent = CSS;
  const plot = document.createElement("div");
  plot.className = "tscam-plot";
  const canvas = document.createElement("canvas");
  canvas.className = "tscam-main";
  const tooltip = document.createElement("div");
  tooltip.className = "tscam-tooltip";
  plot.append(canvas, tooltip);
  const strip = document.createElement("canvas");
  strip.className = "tscam-strip";
  strip.title = "click a row to show that layer";
  const status = document.createElement("div");
  status.className = "tscam-status";
  const error = document.createElement("div");
  error.className = "tscam-error";

  // A control moved here: draw at once rather than in the next animation frame (an input event
  // handled from a task would otherwise wait up to a whole frame); at most one such draw per
  // frame, later ones in the same frame go through requestAnimationFrame as usual.
  let drewThisFrame = false;
  const change = (c: Partial<CamTraits>) => {
    setControls(m, c);
    if (drewThisFrame) return;
    if (frame) cancelAnimationFrame(frame);
    draw();
    drewThisFrame = true;
    requestAnimationFrame(() => { drewThisFrame = false; });
  };
  const controls = createControls({ change, png: () => downloadPng() });
  const trust = createTrustPane(change);
  plot.append(trust.canvas);
  // the randomised-model toggle sits with the status line: the control rows keep their place
  const footer = document.createElement("div");
  footer.className = "tscam-footer";
  footer.append(trust.toggle, status);
  root.append(style, controls.root, plot, strip, footer, error);
  el.append(root);

  let lastScene: Scene | null = null; // the last picture whose maps matched the controls
  let hits: PanelHit[] = [];
  let stripGeom: StripGeometry | null = null;
  let localError = "";
  let frame = 0;
  let lastWidth = 0; // the plot's last laid-out width (css px)
  let paints = 0;
  let colorbar: PaintedDetail["colorbar"] = null; // the last paint's colour bar (painted event)
  let cachedTheme: Theme | null = null; // cleared when the page's theme changes

  function draw(): void {
    frame = 0;
    const tStart = performance.now();
    localError = "";
    const notes: string[] = []; // drawn over the plot and written in the status line
    let ready = false;
    try {
      // clientWidth is 0 while an ancestor is display:none (JupyterLab hides the shell for one
      // frame on a theme switch, and the ResizeObserver sees no change when it comes back):
      // keep the last laid-out width then instead of a made-up one.
      const width = plotWidth(plot.clientWidth, lastWidth, el.clientWidth);
      if (plot.clientWidth > 0) lastWidth = width;
      else requestAnimationFrame(() => { if (plot.clientWidth > 0 && Math.floor(plot.clientWidth) !== width) schedule(); });
      controls.update(m); // after reading the width: DOM writes first would force a layout here
      // read once per theme (getComputedStyle would force a style recalc every frame); not
      // cached while the root is outside the document (no CSS variables there yet)
      let theme = cachedTheme;
      if (!theme) {
        theme = readTheme(root);
        root.style.colorScheme = isDarkColour(theme.bg) ? "dark" : "light"; // native sliders, menus
        if (root.isConnected) cachedTheme = theme;
      }
      const table = tableFor(currentTable(m));
      const trustView = trust.update(m, width, theme, sizeCanvas);
      canvas.classList.toggle("tscam-hidden", trustView);
      const randomised = !!(m as unknown as { get(k: string): boolean }).get("randomised");
      const built = buildScene(randomised ? randomisedReader(m) : m);
      let scene = built.scene;
      if (randomised) notes.push("randomised model (every layer re-initialised), maps for the predicted class: sanity check");
      ready = built.ready && !!scene;
      if (built.ready && scene) lastScene = scene;
      else if (scene) {
        notes.push("computing...");
        if (lastScene) scene = lastScene;
      }
      if (!scene) {
        if (built.why) notes.push(built.why);
        sizeCanvas(canvas, width, 40)?.clearRect(0, 0, width, 40);
        hits = [];
        colorbar = null;
      } else {
        const nan = nanNote(m, scene);
        if (nan) notes.push(nan);
        const layout = sceneLayout(scene, width);
        const height = layout.height;
        const ctx = sizeCanvas(canvas, width, height);
        if (ctx) {
          hits = drawScene(ctx, scene, {
            width,
            height,
            theme,
            table,
            notes,
            mask: (n) => maskRow(m, n),
            style: { mark: m.get("mark"), linewidth: m.get("linewidth"), linestyle: m.get("linestyle"), alpha: m.get("alpha") },
          });
          colorbar = { ...rounded(layout.colourBar), lo: scene.valueRange[0], hi: scene.valueRange[1] };
        }
        if (scene.strip && scene.strip.length > 0) {
          stripGeom = stripGeometry(scene.strip.length, width, MARGIN.left, MARGIN.right);
          const sctx = sizeCanvas(strip, width, stripGeom.height);
          const s0 = scene.samples[0];
          if (sctx) {
            drawStrip(sctx, stripGeom, scene.strip, scene.layerNames, scene.layer, scene.valueRange, table, theme,
              window.devicePixelRatio || 1, `all layers of sample #${s0?.id ?? ""} (click a row to show it)`);
          }
          strip.classList.remove("tscam-hidden");
        } else {
          strip.classList.add("tscam-hidden");
          stripGeom = null;
        }
      }
      if (trustView) strip.classList.add("tscam-hidden");
    } catch (e) {
      localError = `frontend: ${(e as Error)?.message ?? String(e)}`;
      console.error(e);
    }
    if (mouse) onMove(mouse);
    // the notes drawn over the plot are also text in the status line (readable, copyable)
    setText(status, [m.get("status"), ...notes].filter(Boolean).join(" · "));
    setText(error, [m.get("error"), localError].filter(Boolean).join("\n"));
    // the painted event: the one hook for pages, tests and benches (docs/protocol.md)
    const t = performance.now();
    const trustShown = trust.painted();
    emitPainted(root, {
      n: ++paints,
      t,
      ms: t - tStart,
      ready,
      controls: {
        layer: m.get("layer"), sample: m.get("sample"), view: m.get("view"), view_count: m.get("view_count"), method: m.get("method"),
        reduction: m.get("reduction"), target: m.get("target"), norm: m.get("norm"), cmap: m.get("cmap"),
      },
      panels: trustShown ? [] : paintedPanels(hits),
      colorbar: trustShown ? null : colorbar,
      trust: trustShown,
    });
  }

  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(draw);
  };

  function downloadPng(): void {
    canvas.toBlob((blob) => {
      if (!blob) return;
      const a = document.createElement("a");
      const url = URL.createObjectURL(blob);
      const layer = (m.get("layers") ?? [])[m.get("layer")] ?? m.get("layer");
      a.href = url;
      a.download = `tscam-${m.get("method")}-${layer}-sample${m.get("sample")}.png`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    }, "image/png");
  }

  // hover tooltip (recomputed after each draw while the mouse stays over the canvas)
  let mouse: { clientX: number; clientY: number } | null = null;
  const onMove = (ev: { clientX: number; clientY: number }) => {
    mouse = { clientX: ev.clientX, clientY: ev.clientY };
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left;
    const y = ev.clientY - r.top;
    const h = panelAt(hits, x, y);
    if (!h) {
      tooltip.style.display = "none";
      return;
    }
    tooltip.textContent = tooltipLines(h, timeAt(h, x), m.get("precision") ?? "float32").join("\n");
    tooltip.style.display = "block";
    const left = x + 14 + tooltip.offsetWidth > r.width ? x - 14 - tooltip.offsetWidth : x + 14;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${y + 12}px`;
  };
  const onLeave = () => {
    mouse = null;
    tooltip.style.display = "none";
  };
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);

  // layer strip: click a row
  const onStripClick = (ev: MouseEvent) => {
    if (!stripGeom) return;
    const r = strip.getBoundingClientRect();
    const l = stripLayerAt(stripGeom, ev.clientX - r.left, ev.clientY - r.top);
    if (l >= 0) change({ layer: l });
  };
  strip.addEventListener("click", onStripClick);
  // the full layer name of the row under the mouse (the labels may be shortened)
  const onStripMove = (ev: MouseEvent) => {
    const r = strip.getBoundingClientRect();
    const l = stripGeom ? stripLayerAt(stripGeom, ev.clientX - r.left, ev.clientY - r.top) : -1;
    const name = l >= 0 ? (m.get("layers") ?? [])[l] : null;
    strip.title = name ? `${name} (click to show this layer)` : "click a row to show that layer";
  };
  strip.addEventListener("mousemove", onStripMove);

  // keyboard: left/right sample, up/down layer, space play/pause
  const onKey = (ev: KeyboardEvent) => {
    const t = ev.target as HTMLElement;
    if (t !== root && (t.tagName === "INPUT" || t.tagName === "SELECT")) {
      ev.stopPropagation(); // the control's own keys (slider arrows) must reach it, not Lab's shortcuts
      return;
    }
    const L = (m.get("layers") ?? []).length;
    const N = m.get("n_samples") ?? 0;
    const clamp = (v: number, n: number) => Math.min(Math.max(0, v), Math.max(0, n - 1));
    let c: Partial<CamTraits> | null = null;
    if (ev.key === "ArrowLeft") c = { sample: clamp(m.get("sample") - 1, N) };
    else if (ev.key === "ArrowRight") c = { sample: clamp(m.get("sample") + 1, N) };
    else if (ev.key === "ArrowUp") c = { layer: clamp(m.get("layer") - 1, L) };
    else if (ev.key === "ArrowDown") c = { layer: clamp(m.get("layer") + 1, L) };
    else if (ev.key === " " && t.tagName !== "BUTTON") c = { playing: !m.get("playing") };
    if (!c) return;
    ev.preventDefault();
    ev.stopPropagation();
    change(c);
  };
  root.addEventListener("keydown", onKey);

  m.on("change", schedule);
  const resize = new ResizeObserver(schedule);
  resize.observe(plot);
  const themeObserver = new MutationObserver(() => {
    cachedTheme = null;
    schedule();
  });
  // the theme is cached between draws: re-read it when the page may have switched themes
  // (JupyterLab: data-jp-theme-*; VS Code and others: class or style of <body>/<html>)
  const themeAttrs = ["data-jp-theme-name", "data-jp-theme-light", "class", "style"];
  themeObserver.observe(document.body, { attributes: true, attributeFilter: themeAttrs });
  themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: themeAttrs });
  schedule();

  return () => {
    if (frame) cancelAnimationFrame(frame);
    m.off("change", schedule);
    resize.disconnect();
    themeObserver.disconnect();
    canvas.removeEventListener("mousemove", onMove);
    canvas.removeEventListener("mouseleave", onLeave);
    strip.removeEventListener("click", onStripClick);
    strip.removeEventListener("mousemove", onStripMove);
    root.removeEventListener("keydown", onKey);
    trust.dispose();
    root.remove();
  };
};

export default { initialize, render };
