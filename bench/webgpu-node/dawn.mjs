// What bench.mjs and profile.mjs share: Dawn (npm `webgpu`) as the page's `navigator.gpu`, and the
// browser build (wasm-bindgen `--target web`) instantiated in Node.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create, globals } from 'webgpu';

/** Installs Dawn's WebGPU globals; `toggles` go to Dawn as they are (e.g. `backend=vulkan`). */
export function installDawn(toggles = []) {
  Object.assign(globalThis, globals);
  globalThis.navigator = { gpu: create(toggles) };
  globalThis.Window = function Window() {}; // wgpu's web backend checks for it
  return globals;
}

/** The browser build in `pkg` (default `web/pkg/webgpu`, the WebGPU module), instantiated: its module's exports. */
export async function loadBrowserBuild(pkg = 'web/pkg/webgpu') {
  const dir = resolve(pkg);
  const wasm = await import(pathToFileURL(`${dir}/lediflow.js`).href);
  wasm.initSync({ module: readFileSync(`${dir}/lediflow_bg.wasm`) });
  return wasm;
}
