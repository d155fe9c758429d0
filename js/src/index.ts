// anywidget entry: initialize (the play clock, once per model) and render (one CamView per
// view: DOM, observers, one draw per frame; js/src/view.ts).
import type { Initialize, Render } from "@anywidget/types";
import { startPlayer } from "./player";
import type { CamTraits } from "./types";
import { CamView, type Model } from "./view";

const initialize: Initialize<CamTraits> = ({ model }) => startPlayer(model);

const render: Render<CamTraits> = ({ model, el }) => {
  const view = new CamView(model as Model, el);
  return () => view.dispose();
};

export default { initialize, render };
