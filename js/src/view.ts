// One rendered view of the widget: a small controller with named parts. The DOM (dom()), the
// frame loop (change, schedule, draw), what one draw paints (maps, strip, status), the painted
// event, and the input handlers (hover, strip, keys, theme), each a method of CamView.
import type { AnyModel } from "@anywidget/types";
import { decodeCached } from "./buffers";
import { ColourTable } from "./colour";
import { createControls, setText, type Controls } from "./controls";
import { panelAt, timeAt, tooltipLines } from "./hover";
import { barsMargin, drawScene, MARGIN, sceneLayout, type PanelHit } from "./render";
import { buildScene, isNanMap, type Scene } from "./scene";
import { plotWidth } from "./layout";
import { setControls } from "./state";
import { drawStrip, stripGeometry, stripLayerAt, type StripGeometry } from "./strip";
import { CSS } from "./style";
import { isDarkColour, readTheme, type Theme } from "./theme";
import type { CamTraits } from "./types";
import { maskRow } from "./band";
import { createTrustPane, randomisedReader, type TrustPane } from "./trust";
import { emitPainted, paintedChannels, paintedPanels, rounded, type PaintedDetail } from "./painted";
import { createSampleMenu, stepSample } from "./samples";
import { currentSnapshot, snapshotAt, snapshotNotes, type SnapshotView } from "./timeline";

export type Model = AnyModel<CamTraits>;

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

/** Size a canvas for css width x height at the device pixel ratio; returns its 2-d context. */
export function sizeCanvas(c: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D | null {
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

/** The control change a key asks for (left/right sample, up/down layer, space play/pause). */
export function keyChange(key: string, m: Pick<Model, "get">): Partial<CamTraits> | null {
  const L = (m.get("layers") ?? []).length;
  const clamp = (v: number, n: number) => Math.min(Math.max(0, v), Math.max(0, n - 1));
  // left/right: the previous/next sample of the sample menu's list (all, or the filtered ones)
  if (key === "ArrowLeft") return { sample: stepSample(m as never, m.get("sample"), -1) };
  if (key === "ArrowRight") return { sample: stepSample(m as never, m.get("sample"), 1) };
  if (key === "ArrowUp") return { layer: clamp(m.get("layer") - 1, L) };
  if (key === "ArrowDown") return { layer: clamp(m.get("layer") + 1, L) };
  if (key === " ") return { playing: !m.get("playing") };
  return null;
}

interface Dom {
  root: HTMLDivElement;
  plot: HTMLDivElement;
  canvas: HTMLCanvasElement;
  tooltip: HTMLDivElement;
  strip: HTMLCanvasElement;
  status: HTMLDivElement;
  error: HTMLDivElement;
}

function div(className: string): HTMLDivElement {
  const d = document.createElement("div");
  d.className = className;
  return d;
}

/** The widget's elements: controls, the plot (main canvas, tooltip, trust canvas), the layer
 * strip, the footer (randomised toggle, status line) and the error line. */
function dom(controls: Controls, trust: TrustPane): Dom {
  const root = div("tscam-root");
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab: keys stay in the widget
  const style = document.createElement("style");
  style.textContent = CSS;
  const plot = div("tscam-plot");
  const canvas = document.createElement("canvas");
  canvas.className = "tscam-main";
  const tooltip = div("tscam-tooltip");
  plot.append(canvas, tooltip, trust.canvas);
  const strip = document.createElement("canvas");
  strip.className = "tscam-strip";
  strip.title = "click a row to show that layer";
  const status = div("tscam-status");
  const error = div("tscam-error");
  // the randomised-model toggle sits with the status line: the control rows keep their place
  const footer = div("tscam-footer");
  footer.append(trust.toggle, status);
  root.append(style, controls.root, plot, strip, footer, error);
  return { root, plot, canvas, tooltip, strip, status, error };
}

export class CamView {
  private readonly controls: Controls;
  private readonly sampleMenu: ReturnType<typeof createSampleMenu>;
  private readonly trust: TrustPane;
  private readonly dom: Dom;
  private lastScene: Scene | null = null; // the last picture whose maps matched the controls
  private drawn: Scene | null = null; // the scene of the last picture drawn
  private snap: SnapshotView | null = null; // the timeline's snapshot drawn (null: the current weights)
  private hits: PanelHit[] = [];
  private colorbar: PaintedDetail["colorbar"] = null;
  private stripGeom: StripGeometry | null = null;
  private frame = 0;
  private drewThisFrame = false;
  private lastWidth = 0; // the plot's last laid-out width (css px)
  private paints = 0;
  private cachedTheme: Theme | null = null; // cleared when the page's theme changes
  private mouse: { clientX: number; clientY: number } | null = null;
  private readonly resize = new ResizeObserver(() => this.schedule());
  private readonly themeObserver = new MutationObserver(() => {
    this.cachedTheme = null;
    this.schedule();
  });

  constructor(private readonly m: Model, private readonly el: HTMLElement) {
    this.controls = createControls({ change: this.change, png: () => this.downloadPng() });
    this.sampleMenu = createSampleMenu(this.change, () => (this.snap ? this.snap.reader : this.m));
    this.controls.root.append(this.sampleMenu.root);
    this.trust = createTrustPane(this.change);
    this.dom = dom(this.controls, this.trust);
    el.append(this.dom.root);
    this.listen();
    this.schedule();
  }

  // ---- the frame loop ----------------------------------------------------------------------
  /** A control moved here: draw at once rather than in the next animation frame (an input
   * event handled from a task would otherwise wait up to a whole frame); at most one such draw
   * per frame, later ones in the same frame go through requestAnimationFrame as usual. */
  private readonly change = (c: Partial<CamTraits>): void => {
    setControls(this.m, c);
    if (this.drewThisFrame) return;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.draw();
    this.drewThisFrame = true;
    requestAnimationFrame(() => { this.drewThisFrame = false; });
  };

  private readonly schedule = (): void => {
    if (!this.frame) this.frame = requestAnimationFrame(this.draw);
  };

  /** One picture: the maps (or the trust view), the layer strip, the status and error lines,
   * then the painted event. */
  private readonly draw = (): void => {
    const { m, dom: d } = this;
    this.frame = 0;
    const tStart = performance.now();
    let localError = "";
    const notes: string[] = []; // drawn over the plot and written in the status line
    const info: string[] = []; // written in the status line only
    let ready = false;
    try {
      const width = this.width();
      const randomised = !!(m as unknown as { get(k: string): boolean }).get("randomised");
      // a snapshot of the training timeline: drawn from its own maps and predictions, and the
      // sample menu lists that moment's predictions (never the current weights' beside it)
      const snapshot = randomised || m.get("view") === "trust" ? null : snapshotAt(m, currentSnapshot(m));
      this.sampleMenu.update(snapshot ? snapshot.reader : m);
      this.controls.update(m); // after reading the width: DOM writes first would force a layout here
      const theme = this.theme();
      const table = tableFor(currentTable(m));
      const trustView = this.trust.update(m, width, theme, sizeCanvas);
      d.canvas.classList.toggle("tscam-hidden", trustView);
      const snap = (this.snap = trustView ? null : snapshot);
      const built = buildScene(randomised ? randomisedReader(m) : snap ? snap.reader : m);
      let scene = built.scene;
      if (randomised) notes.push("randomised model (every layer re-initialised), maps for the predicted class: sanity check");
      ready = built.ready && !!scene;
      if (snap && scene) {
        // a snapshot never waits for a kernel: what it lacks is said, never replaced by an old picture
        notes.push(...snapshotNotes(m, snap, scene.samples.map((s) => s.n)));
        scene = { ...scene, title: `${scene.title} - ${snap.label}` };
        ready = true;
      } else if (built.ready && scene) this.lastScene = scene;
      else if (scene) {
        notes.push("computing...");
        if (this.lastScene) scene = this.lastScene;
      }
      if (!scene) {
        if (built.why) notes.push(built.why);
        sizeCanvas(d.canvas, width, 40)?.clearRect(0, 0, width, 40);
        this.drawn = null;
        this.hits = [];
        this.colorbar = null;
      } else {
        const nan = nanNote(m, scene);
        if (nan) notes.push(nan);
        if (scene.channelNote) info.push(scene.channelNote);
        this.paintMaps(scene, width, theme, table, notes);
        this.drawn = scene;
        this.paintStrip(scene, width, theme, table);
      }
      if (trustView) d.strip.classList.add("tscam-hidden");
    } catch (e) {
      localError = `frontend: ${(e as Error)?.message ?? String(e)}`;
      console.error(e);
    }
    if (this.mouse) this.hover(this.mouse);
    // the notes drawn over the plot are also text in the status line (readable, copyable)
    // at a snapshot the kernel's status (about the current weights' maps) gives way to its own
    setText(d.status, [this.snap ? "" : m.get("status"), ...notes, ...info].filter(Boolean).join(" · "));
    setText(d.error, [m.get("error"), localError].filter(Boolean).join("\n"));
    this.emit(ready, tStart);
  };

  /** The plot's width. clientWidth is 0 while an ancestor is display:none (JupyterLab hides
   * the shell for one frame on a theme switch, and the ResizeObserver sees no change when it
   * comes back): keep the last laid-out width then instead of a made-up one. */
  private width(): number {
    const { plot } = this.dom;
    const width = plotWidth(plot.clientWidth, this.lastWidth, this.el.clientWidth);
    if (plot.clientWidth > 0) this.lastWidth = width;
    else requestAnimationFrame(() => { if (plot.clientWidth > 0 && Math.floor(plot.clientWidth) !== width) this.schedule(); });
    return width;
  }

  /** The page's theme, read once per theme (getComputedStyle would force a style recalc every
   * frame); not cached while the root is outside the document (no CSS variables there yet). */
  private theme(): Theme {
    if (this.cachedTheme) return this.cachedTheme;
    const { root } = this.dom;
    const theme = readTheme(root);
    root.style.colorScheme = isDarkColour(theme.bg) ? "dark" : "light"; // native sliders, menus
    if (root.isConnected) this.cachedTheme = theme;
    return theme;
  }

  private paintMaps(scene: Scene, width: number, theme: Theme, table: ColourTable, notes: string[]): void {
    const m = this.m;
    const layout = sceneLayout(scene, width);
    const ctx = sizeCanvas(this.dom.canvas, width, layout.height);
    if (!ctx) return;
    this.hits = drawScene(ctx, scene, {
      width,
      height: layout.height,
      theme,
      table,
      notes,
      mask: (n) => maskRow(m, n),
      style: { mark: m.get("mark"), linewidth: m.get("linewidth"), linestyle: m.get("linestyle"), alpha: m.get("alpha") },
    });
    this.colorbar = { ...rounded(layout.colourBar), lo: scene.valueRange[0], hi: scene.valueRange[1] };
  }

  private paintStrip(scene: Scene, width: number, theme: Theme, table: ColourTable): void {
    const { strip } = this.dom;
    if (!scene.strip || scene.strip.length === 0) {
      strip.classList.add("tscam-hidden");
      this.stripGeom = null;
      return;
    }
    const geom = (this.stripGeom = stripGeometry(scene.strip.length, width, MARGIN.left, MARGIN.right + barsMargin(scene)));
    const sctx = sizeCanvas(strip, width, geom.height);
    const s0 = scene.samples[0];
    if (sctx) {
      drawStrip(sctx, geom, scene.strip, scene.layerNames, scene.layer, scene.valueRange, table, theme,
        window.devicePixelRatio || 1, `all layers of sample #${s0?.id ?? ""} (click a row to show it)`, scene.stripRanges);
    }
    strip.classList.remove("tscam-hidden");
  }

  /** The painted event: the one hook for pages, tests and benches (docs/protocol.md). */
  private emit(ready: boolean, tStart: number): void {
    const m = this.m;
    const t = performance.now();
    const trustShown = this.trust.painted();
    emitPainted(this.dom.root, {
      n: ++this.paints,
      t,
      ms: t - tStart,
      ready,
      controls: {
        layer: m.get("layer"), sample: m.get("sample"), view: m.get("view"), view_count: m.get("view_count"), method: m.get("method"),
        reduction: m.get("reduction"), target: m.get("target"), norm: m.get("norm"), cmap: m.get("cmap"),
        epoch: this.snap ? this.snap.index : -1,
      },
      panels: trustShown ? [] : paintedPanels(this.hits),
      colorbar: trustShown ? null : this.colorbar,
      trust: trustShown,
      channels: trustShown || !this.drawn ? null : paintedChannels(this.drawn),
    });
  }

  // ---- input -------------------------------------------------------------------------------
  /** The hover tooltip (recomputed after each draw while the mouse stays over the canvas). */
  private readonly hover = (ev: { clientX: number; clientY: number }): void => {
    const { canvas, tooltip } = this.dom;
    this.mouse = { clientX: ev.clientX, clientY: ev.clientY };
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left;
    const y = ev.clientY - r.top;
    const h = panelAt(this.hits, x, y);
    if (!h) {
      tooltip.style.display = "none";
      return;
    }
    const lines = tooltipLines(h, timeAt(h, x), this.m.get("precision") ?? "float32");
    // a snapshot: its label and each sample's prediction and confidence at that moment
    if (this.snap) lines.unshift(...h.samples.map((s) => `${this.snap?.label}: ${h.samples.length > 1 ? `#${s.id} ` : ""}${s.title}`));
    tooltip.textContent = lines.join("\n");
    tooltip.style.display = "block";
    const left = x + 14 + tooltip.offsetWidth > r.width ? x - 14 - tooltip.offsetWidth : x + 14;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${y + 12}px`;
  };

  private readonly leave = (): void => {
    this.mouse = null;
    this.dom.tooltip.style.display = "none";
  };

  private stripLayer(ev: MouseEvent): number {
    const r = this.dom.strip.getBoundingClientRect();
    return this.stripGeom ? stripLayerAt(this.stripGeom, ev.clientX - r.left, ev.clientY - r.top) : -1;
  }

  /** Layer strip: a click on a row shows that layer. */
  private readonly stripClick = (ev: MouseEvent): void => {
    const l = this.stripLayer(ev);
    if (l >= 0) this.change({ layer: l });
  };

  /** Layer strip: the full name of the row under the mouse (the labels may be shortened). */
  private readonly stripMove = (ev: MouseEvent): void => {
    const l = this.stripLayer(ev);
    const name = l >= 0 ? (this.m.get("layers") ?? [])[l] : null;
    this.dom.strip.title = name ? `${name} (click to show this layer)` : "click a row to show that layer";
  };

  private readonly key = (ev: KeyboardEvent): void => {
    const t = ev.target as HTMLElement;
    if (t !== this.dom.root && (t.tagName === "INPUT" || t.tagName === "SELECT")) {
      ev.stopPropagation(); // the control's own keys (slider arrows) must reach it, not Lab's shortcuts
      return;
    }
    const c = ev.key === " " && t.tagName === "BUTTON" ? null : keyChange(ev.key, this.m);
    if (!c) return;
    ev.preventDefault();
    ev.stopPropagation();
    this.change(c);
  };

  private downloadPng(): void {
    const m = this.m;
    this.dom.canvas.toBlob((blob) => {
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

  // ---- wiring ------------------------------------------------------------------------------
  private listen(): void {
    const { canvas, strip, root, plot } = this.dom;
    canvas.addEventListener("mousemove", this.hover);
    canvas.addEventListener("mouseleave", this.leave);
    strip.addEventListener("click", this.stripClick);
    strip.addEventListener("mousemove", this.stripMove);
    root.addEventListener("keydown", this.key);
    this.m.on("change", this.schedule);
    this.resize.observe(plot);
    // the theme is cached between draws: re-read it when the page may have switched themes
    // (JupyterLab: data-jp-theme-*; VS Code and others: class or style of <body>/<html>)
    const attributeFilter = ["data-jp-theme-name", "data-jp-theme-light", "class", "style"];
    this.themeObserver.observe(document.body, { attributes: true, attributeFilter });
    this.themeObserver.observe(document.documentElement, { attributes: true, attributeFilter });
  }

  dispose(): void {
    const { canvas, strip, root } = this.dom;
    if (this.frame) cancelAnimationFrame(this.frame);
    this.m.off("change", this.schedule);
    this.resize.disconnect();
    this.themeObserver.disconnect();
    canvas.removeEventListener("mousemove", this.hover);
    canvas.removeEventListener("mouseleave", this.leave);
    strip.removeEventListener("click", this.stripClick);
    strip.removeEventListener("mousemove", this.stripMove);
    root.removeEventListener("keydown", this.key);
    this.trust.dispose();
    root.remove();
  }
}
