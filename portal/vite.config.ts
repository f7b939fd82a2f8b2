import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Deterministic output: content-hashed asset names, no sourcemaps; dist/ is
// committed and embedded by embed.go so `go build` works without Node.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, assetsDir: "assets" },
  server: { proxy: { "/query": { target: "http://127.0.0.1:8080", ws: true }, "/export": { target: "http://127.0.0.1:8080" } } },
  test: { environment: "node", include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
