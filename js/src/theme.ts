// Colours and fonts from JupyterLab's CSS variables. Hosts without them (marimo, the offline
// page, VS Code ...) get the widget's own light or dark palette, chosen from the background
// the widget sits on (found through shadow roots: marimo renders anywidgets in one), and that
// background itself, so the card blends into the page in either theme.

export interface Theme {
  fg: string; // text
  fgMuted: string; // tick labels, notes
  bg: string; // canvas background
  grid: string; // grid lines and axes frame
  font: string; // font family
  neutral: string; // series colour where the map is NaN / not there yet
  error: string;
}

/** JupyterLab variable of each theme colour; the widget's own `--tscam-*` one stands in. */
const VARS: Record<keyof Theme, [string, string]> = {
  fg: ["--jp-ui-font-color1", "--tscam-fg"],
  fgMuted: ["--jp-ui-font-color2", "--tscam-fg-muted"],
  bg: ["--jp-layout-color0", "--tscam-bg"],
  grid: ["--jp-border-color2", "--tscam-grid"],
  font: ["--jp-ui-font-family", "--tscam-font"],
  neutral: ["--jp-ui-font-color3", "--tscam-neutral"],
  error: ["--jp-error-color1", "--tscam-error"],
};

/** The widget's palettes where the host defines no JupyterLab variables (set in style.ts). */
export const PALETTES = {
  light: {
    "--tscam-fg": "#212121",
    "--tscam-fg-muted": "#616161",
    "--tscam-bg": "#ffffff",
    "--tscam-bg1": "#ffffff",
    "--tscam-bg2": "#f5f5f5",
    "--tscam-grid": "#e0e0e0",
    "--tscam-border": "#bdbdbd",
    "--tscam-neutral": "#9e9e9e",
    "--tscam-error": "#d32f2f",
    "--tscam-brand": "#1976d2",
  },
  dark: {
    "--tscam-fg": "#e6e6e6",
    "--tscam-fg-muted": "#a8a8a8",
    "--tscam-bg": "#111111",
    "--tscam-bg1": "#232323",
    "--tscam-bg2": "#2e2e2e",
    "--tscam-grid": "#3a3a3a",
    "--tscam-border": "#5c5c5c",
    "--tscam-neutral": "#8a8a8a",
    "--tscam-error": "#f2746b",
    "--tscam-brand": "#64b5f6",
  },
} as const;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/** Read the theme (once per theme switch: it walks the ancestors where JupyterLab's variables
 * are missing). Sets the `tscam-dark` class and the host background on `el` for the CSS. */
export function readTheme(el: HTMLElement): Theme {
  let cs = getComputedStyle(el);
  if (!cs.getPropertyValue("--jp-layout-color0").trim()) {
    const host = hostBackground(el);
    const dark = host !== null && isDarkColour(host);
    el.classList.toggle("tscam-dark", dark);
    if (host) el.style.setProperty("--tscam-bg", host);
    else el.style.removeProperty("--tscam-bg");
    cs = getComputedStyle(el);
  } else {
    el.classList.remove("tscam-dark");
    el.style.removeProperty("--tscam-bg");
  }
  const out = {} as Theme;
  for (const key of Object.keys(VARS) as (keyof Theme)[]) {
    const [jp, own] = VARS[key];
    out[key] = cs.getPropertyValue(jp).trim() || cs.getPropertyValue(own).trim() || (key === "font" ? FONT : PALETTES.light[own as keyof typeof PALETTES.light]);
  }
  return out;
}

/** The first opaque background above `el` (crossing shadow roots), or null (none: the page's
 * canvas, white unless the page says otherwise). */
export function hostBackground(el: Element): string | null {
  let node: Node | null = el.parentNode;
  while (node) {
    if (node instanceof Element) {
      const bg = getComputedStyle(node).backgroundColor;
      if (bg && parseColour(bg)[3] > 0.5) return bg;
      node = node.parentNode;
    } else if (typeof ShadowRoot !== "undefined" && node instanceof ShadowRoot) {
      node = node.host;
    } else {
      node = node.parentNode;
    }
  }
  return null;
}

let probe: CanvasRenderingContext2D | null = null;

/** [r, g, b in 0..255, alpha 0..1] of a CSS colour, parsed by the canvas itself. */
export function parseColour(css: string): [number, number, number, number] {
  probe ??= document.createElement("canvas").getContext("2d");
  if (!probe) return [255, 255, 255, 1];
  probe.fillStyle = "#ffffff";
  probe.fillStyle = css; // normalised to #rrggbb or rgba(r, g, b, a)
  const s = String(probe.fillStyle);
  if (s.startsWith("#")) return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)).concat(1) as [number, number, number, number];
  const v = (s.match(/[\d.]+(e-?\d+)?/g) ?? ["255", "255", "255", "1"]).map(Number);
  const k = s.startsWith("color(") ? 255 : 1; // color(srgb r g b / a): channels in 0..1
  return [v[0] * k, v[1] * k, v[2] * k, v.length > 3 ? v[3] : 1];
}

/** Is a CSS colour dark (relative luminance < 0.4)? */
export function isDarkColour(css: string): boolean {
  const [r, g, b] = parseColour(css).map((v) => v / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.4;
}
