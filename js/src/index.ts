// Placeholder entry point: the CamWidget frontend fills this in.
export default {
  render({ el }: { el: HTMLElement }) {
    el.textContent = "tscam-widget";
  },
};
