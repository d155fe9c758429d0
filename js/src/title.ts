// Figure titles in the timeseries package's spirit:
// "[true: Normal | pred: Myocardial Infarction (0.97)] - Grad-CAM - mean - blocks.5"

export interface SampleLabel {
  trueClass: number; // -1 when unknown
  predClass: number;
  prob: number; // NaN when unknown
}

export function className(classes: string[], i: number): string {
  if (i < 0 || !Number.isFinite(i)) return "?";
  return classes[i] ?? String(i);
}

/** "[true: Normal | pred: Myocardial Infarction (0.97)]" */
export function sampleTitle(classes: string[], s: SampleLabel): string {
  const p = Number.isFinite(s.prob) ? ` (${s.prob.toFixed(2)})` : "";
  return `[true: ${className(classes, s.trueClass)} | pred: ${className(classes, s.predClass)}${p}]`;
}

export interface MethodTitle {
  method: string;
  methodLabels: Record<string, string>;
  reduction: string;
  reductionMethods: string[];
  layerName: string;
  target: string | number;
  classes: string[];
  /** methods whose map depends on the target (absent: all) */
  targetMethods?: string[];
}

/** "Grad-CAM - mean - blocks.5" (reduction only where the method uses one; a non-default target named
 * only for methods that use the target). */
export function methodTitle(m: MethodTitle): string {
  const parts = [m.methodLabels[m.method] ?? m.method];
  if (m.reductionMethods.includes(m.method)) parts.push(m.reduction);
  parts.push(m.layerName);
  const usesTarget = !m.targetMethods || m.targetMethods.includes(m.method);
  if (usesTarget && m.target !== "pred" && m.target !== "" && m.target != null) {
    const t = typeof m.target === "number" ? className(m.classes, m.target) : m.target;
    parts.push(`target: ${t}`);
  }
  return parts.join(" - ");
}
