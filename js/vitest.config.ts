import { defineConfig } from "vitest/config";

// Pure modules only (no DOM): the browser is exercised by tests/test_render_smoke.py.
export default defineConfig({
  test: { include: ["test/**/*.test.ts"], environment: "node", pool: "threads", poolOptions: { threads: { maxThreads: 1, minThreads: 1 } } },
});
