// Scoped CSS (class prefix tscam-), injected by the bundle: colours from JupyterLab variables,
// else the widget's own palette (light, or dark with .tscam-dark: see theme.ts).
import { PALETTES } from "./theme";

const palette = (p: Record<string, string>) => Object.entries(p).map(([k, v]) => `${k}: ${v};`).join(" ");

export const CSS = `
.tscam-root { ${palette(PALETTES.light)} --tscam-font: system-ui, sans-serif; }
.tscam-root.tscam-dark { ${palette(PALETTES.dark)} }
.tscam-root { font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, var(--tscam-fg)); background: var(--jp-layout-color0, var(--tscam-bg));
  outline: none; padding: 4px 0; box-sizing: border-box; width: 100%; min-width: 320px; }
.tscam-root:focus-visible { box-shadow: 0 0 0 1px var(--jp-brand-color1, var(--tscam-brand)) inset; }
.tscam-controls { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; margin: 2px 4px 6px; }
.tscam-nav { display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: center; }
.tscam-controls label { display: inline-flex; gap: 4px; align-items: center; white-space: nowrap; }
.tscam-footer { display: flex; gap: 12px; align-items: center; margin: 0 4px; }
.tscam-footer label { display: inline-flex; gap: 4px; align-items: center; white-space: nowrap; }
.tscam-controls select, .tscam-controls input[type=number], .tscam-controls button {
  font: inherit; color: var(--jp-ui-font-color1, var(--tscam-fg)); background: var(--jp-layout-color1, var(--tscam-bg1));
  border: 1px solid var(--jp-border-color1, var(--tscam-border)); border-radius: 2px; padding: 1px 4px; }
.tscam-controls button { cursor: pointer; min-width: 28px; }
.tscam-controls input[type=number] { width: 5em; }
.tscam-controls input[type=range] { accent-color: var(--jp-brand-color1, var(--tscam-brand)); margin: 0 6px; }
.tscam-controls select { max-width: 9em; }
.tscam-controls input[data-control=view_count] { width: 3.5em; }
.tscam-controls input:focus-visible, .tscam-controls select:focus-visible, .tscam-controls button:focus-visible {
  outline: 2px solid var(--jp-brand-color1, var(--tscam-brand)); outline-offset: 1px; }
.tscam-epoch input[type=range] { width: 120px; }
.tscam-epoch-name { display: inline-block; width: 9em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tscam-layer, .tscam-sample, .tscam-epoch { display: inline-flex; align-items: center; white-space: nowrap; }
.tscam-layer input[type=range] { width: 200px; }
.tscam-sample input[type=range] { width: 160px; }
.tscam-layer-name { font-weight: bold; display: inline-block; width: 15em; overflow: hidden;
  text-overflow: ellipsis; white-space: nowrap; }
.tscam-sample-info { display: inline-block; min-width: 8.5em; white-space: nowrap; }
.tscam-muted { color: var(--jp-ui-font-color2, var(--tscam-fg-muted)); }
.tscam-plot { position: relative; width: 100%; }
.tscam-plot canvas, .tscam-strip { display: block; }
.tscam-strip { cursor: pointer; margin-top: 4px; }
.tscam-tooltip { position: absolute; pointer-events: none; display: none; z-index: 10; white-space: pre;
  background: var(--jp-layout-color2, var(--tscam-bg2)); color: var(--jp-ui-font-color1, var(--tscam-fg));
  border: 1px solid var(--jp-border-color1, var(--tscam-border)); padding: 3px 6px; font-size: 11px; border-radius: 2px; }
.tscam-status { margin: 4px; min-height: 1.2em; color: var(--jp-ui-font-color2, var(--tscam-fg-muted)); }
.tscam-error { margin: 4px; color: var(--jp-error-color1, var(--tscam-error)); font-weight: bold; white-space: pre-wrap; }
.tscam-error:empty, .tscam-hidden { display: none !important; }
`;
