// Short names for dotted layer names: the shortest dotted suffix that tells a name apart from
// every other one of the list (the full name goes in a tooltip).

const numeric = (s: string) => /^\d+$/.test(s);

/**
 * For each name, its shortest dotted suffix that no other name of `names` ends with the same
 * way; the suffix holds at least one non-numeric part ("blocks.0", never a bare "0"). A name
 * that occurs twice keeps its full text.
 */
export function shortLabels(names: readonly string[]): string[] {
  const parts = names.map((n) => n.split("."));
  const suffix = (p: string[], k: number) => p.slice(Math.max(0, p.length - k)).join(".");
  return parts.map((p, i) => {
    for (let k = 1; k <= p.length; k++) {
      const s = suffix(p, k);
      if (p.slice(p.length - k).every(numeric) && k < p.length) continue;
      // k parts: another name with the same last k parts (or that is exactly this suffix)
      const clash = parts.some((q, j) => j !== i && suffix(q, k) === s);
      if (!clash) return s;
    }
    return names[i];
  });
}
