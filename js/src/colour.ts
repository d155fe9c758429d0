// Value -> RGBA through the 256-entry colour table (matplotlib's lookup rule).

export const TABLE_SIZE = 256;

/**
 * Index into a 256-entry table for value v on [lo, hi]: floor(t * 256) clamped to
 * 0..255, so lo -> 0 and hi -> 255 (as matplotlib's Colormap). NaN -> -1.
 * A degenerate range (hi <= lo) maps everything to 0, like matplotlib's Normalize.
 */
export function colourIndex(v: number, lo: number, hi: number): number {
  if (Number.isNaN(v)) return -1;
  if (!(hi > lo)) return 0;
  const i = Math.floor(((v - lo) / (hi - lo)) * TABLE_SIZE);
  return i < 0 ? 0 : i > TABLE_SIZE - 1 ? TABLE_SIZE - 1 : i;
}

/** A grey ramp, used until Python has sent `cmap_table`. */
export function fallbackTable(): Uint8Array {
  const t = new Uint8Array(TABLE_SIZE * 4);
  for (let i = 0; i < TABLE_SIZE; i++) t.set([i, 64, 255 - i, 255], i * 4);
  return t;
}

export class ColourTable {
  readonly rgba: Uint8Array;
  readonly css: string[];

  constructor(rgba: Uint8Array | null | undefined) {
    this.rgba = rgba && rgba.length === TABLE_SIZE * 4 ? rgba : fallbackTable();
    this.css = [];
    for (let i = 0; i < TABLE_SIZE; i++) {
      const [r, g, b, a] = this.rgba.subarray(i * 4, i * 4 + 4);
      this.css.push(`rgba(${r},${g},${b},${+(a / 255).toFixed(3)})`);
    }
  }

  /** CSS colour of a value, or `nan` for NaN. */
  colour(v: number, lo: number, hi: number, nan: string): string {
    const i = colourIndex(v, lo, hi);
    return i < 0 ? nan : this.css[i];
  }
}
