// Colours and fonts from JupyterLab's CSS variables (dark-on-white fallbacks elsewhere).

export interface Theme {
  fg: string; // text
  fgMuted: string; // tick labels, notes
  bg: string; // canvas background
  grid: string; // grid lines and axes frame
  font: string; // font family
  neutral: string; // series colour where the map is NaN / not there yet
  error: string;
}

const VARS: Record<keyof Theme, [string, string]> = {
  fg: ["--jp-ui-font-color1", "#212121"],
  fgMuted: ["--jp-ui-font-color2", "#616161"],
  bg: ["--jp-layout-color0", "#ffffff"],
  grid: ["--jp-border-color2", "#e0e0e0"],
  font: ["--jp-ui-font-family", "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"],
  neutral: ["--jp-ui-font-color3", "#9e9e9e"],
  error: ["--jp-error-color1", "#d32f2f"],
};

/** Read the theme at draw time (cheap): follows a theme switch without any bookkeeping. */
export function readTheme(el: Element): Theme {
  const cs = getComputedStyle(el);
  const out = {} as Theme;
  for (const key of Object.keys(VARS) as (keyof Theme)[]) {
    const [name, fallback] = VARS[key];
    out[key] = cs.getPropertyValue(name).trim() || fallback;
  }
  return out;
}

let probe: CanvasRenderingContext2D | null = null;

/** Is a CSS colour dark (relative luminance < 0.4)? Parsed by the canvas itself. */
export function isDarkColour(css: string): boolean {
  probe ??= document.createElement("canvas").getContext("2d");
  if (!probe) return false;
  probe.fillStyle = "#ffffff";
  probe.fillStyle = css; // normalised to #rrggbb or rgba(r, g, b, a)
  const s = String(probe.fillStyle);
  const rgb = s.startsWith("#")
    ? [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16))
    : (s.match(/[\d.]+/g) ?? ["255", "255", "255"]).slice(0, 3).map(Number);
  const [r, g, b] = rgb.map((v) => v / 255);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.4;
}
