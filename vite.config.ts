import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const repoRoot = fileURLToPath(new URL('.', import.meta.url));

// The demo page (web/demo) → dist/. `base: './'` makes every URL relative, so dist/ works from
// any static host and any sub-path. The shipped model and manifest come along as assets, because
// the library refers to them with `new URL('../../models/…', import.meta.url)`.
export default defineConfig({
  root: 'web/demo',
  base: './',
  build: {
    outDir: '../../dist',
    emptyOutDir: true,
    target: 'es2022',
    // The weights are 7.7 MB and the wasm several MB: no point warning about chunk sizes.
    chunkSizeWarningLimit: 20_000,
    // Keep the manifest a file of its own in dist/ (not a data: URL), like the model beside it.
    assetsInlineLimit: (file) => (file.endsWith('.json') ? false : undefined),
  },
  // Module workers keep `import.meta.url`, which the worker needs to find the wasm.
  worker: { format: 'es' },
  server: {
    host: '127.0.0.1',
    // The demo imports web/src, web/pkg and models/ from outside its root.
    fs: { allow: [repoRoot] },
  },
  preview: { host: '127.0.0.1' },
});
