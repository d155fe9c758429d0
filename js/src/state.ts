// Model glue: which map to draw (precomputed `cube` or kernel `maps`), and writing controls back.
import { decodeCached } from "./buffers";
import type { CamTraits, MapsMeta, TraitReader } from "./types";

/** Column of `cube_keys` for a method: "gradcam", or "activation/mean" for reduction methods. */
export function mapKey(method: string, reduction: string, reductionMethods: string[]): string {
  return reductionMethods.includes(method) ? `${method}/${reduction}` : method;
}

/** Targets compare loosely: the class 1 may come back as "1". */
export function sameTarget(a: unknown, b: unknown): boolean {
  return String(a) === String(b);
}

/** Maps of every layer for some samples: map(n, l) is a [T] view (no copy), null if absent. */
export interface MapSource {
  L: number;
  T: number;
  map(n: number, l: number): Float32Array | null;
}

export type Resolution = { ready: true; source: MapSource } | { ready: false; why: string };

function pending(why: string): Resolution {
  return { ready: false, why };
}

/** Does kernel-mode `maps_meta` answer the current controls for these samples? */
export function metaMatches(meta: MapsMeta | null, m: TraitReader, samples: number[]): boolean {
  if (!meta) return false;
  const method = m.get("method");
  if (meta.method !== method) return false;
  if (m.get("reduction_methods").includes(method) && meta.reduction !== m.get("reduction")) return false;
  if (!sameTarget(meta.target, m.get("target"))) return false;
  if (meta.norm !== m.get("norm")) return false;
  const have = meta.samples ?? [];
  return samples.every((n) => have.includes(n));
}

/** Pick the maps to draw for `samples` from the cube (precompute mode) or `maps` (kernel mode). */
export function resolveMaps(m: TraitReader, samples: number[]): Resolution {
  if (m.get("precomputed")) {
    const cube = decodeCached(m.get("cube"));
    if (!cube || cube.shape.length !== 4) return pending("no cube yet");
    const meta = m.get("cube_meta");
    if (meta && ((meta.target != null && !sameTarget(meta.target, m.get("target"))) || (meta.norm != null && meta.norm !== m.get("norm")))) {
      return pending("cube is for another target/norm");
    }
    const [N, L, M, T] = cube.shape;
    const k = m.get("cube_keys").indexOf(mapKey(m.get("method"), m.get("reduction"), m.get("reduction_methods")));
    if (k < 0 || k >= M) return pending("method not in cube");
    const data = cube.data as Float32Array;
    return {
      ready: true,
      source: {
        L,
        T,
        map: (n, l) => (n >= 0 && n < N && l >= 0 && l < L ? data.subarray(((n * L + l) * M + k) * T, ((n * L + l) * M + k + 1) * T) : null),
      },
    };
  }
  const meta = m.get("maps_meta");
  if (!metaMatches(meta, m, samples)) return pending("waiting for maps");
  const maps = decodeCached(m.get("maps"));
  if (!maps || maps.shape.length !== 3) return pending("no maps yet");
  const [S, L, T] = maps.shape;
  const have = meta?.samples ?? [];
  const data = maps.data as Float32Array;
  return {
    ready: true,
    source: {
      L,
      T,
      map: (n, l) => {
        const s = have.indexOf(n);
        return s >= 0 && s < S && l >= 0 && l < L ? data.subarray((s * L + l) * T, (s * L + l + 1) * T) : null;
      },
    },
  };
}

export type ControlName = "layer" | "method" | "reduction" | "sample" | "target" | "cmap" | "norm" | "view" | "view_count" | "mark" | "linewidth" | "linestyle" | "alpha" | "playing";

const KERNEL_NEEDS: ControlName[] = ["sample", "method", "reduction", "target", "norm", "view", "view_count"];
const CUBE_NEEDS: ControlName[] = ["target", "norm"];

/** Does this change need new maps from Python (and so a new request_id)? */
export function needsMaps(names: string[], precomputed: boolean): boolean {
  const list = precomputed ? CUBE_NEEDS : KERNEL_NEEDS;
  return names.some((n) => (list as string[]).includes(n));
}

export interface TraitWriter extends TraitReader {
  set<K extends keyof CamTraits>(key: K, value: CamTraits[K]): void;
  save_changes(): void;
}

/** Set controls as the user changed them, bump request_id when maps are needed, sync once. */
export function setControls(m: TraitWriter, changes: Partial<CamTraits>): void {
  const names = Object.keys(changes).filter((k) => m.get(k as keyof CamTraits) !== changes[k as keyof CamTraits]);
  if (names.length === 0) return;
  for (const k of names) m.set(k as keyof CamTraits, changes[k as keyof CamTraits] as never);
  if (needsMaps(names, !!m.get("precomputed"))) m.set("request_id", (m.get("request_id") || 0) + 1);
  m.save_changes();
}
