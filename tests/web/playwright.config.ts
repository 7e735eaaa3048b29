import { defineConfig } from '@playwright/test';

import { chromiumLaunch, DEMO_URL, ORIGIN, REPO, RESULTS } from './paths.js';

// Two browsers' worth of Chromium: without WebGPU (the CPU fallback runs the shipped model at full
// size) and with SwiftShader's WebGPU (about 0.2 GFLOP/s here: the tiny model, one sample, one step).
// One worker: the machine has two cores and the wasm runs on one of them.
export default defineConfig({
  testDir: '.',
  outputDir: `${RESULTS}/artifacts`,
  globalSetup: './global-setup.ts',
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  webServer: {
    command: 'node tests/web/server.mjs',
    cwd: REPO,
    url: `${ORIGIN}/__health`,
    reuseExistingServer: false,
    stdout: 'ignore',
  },
  use: {
    baseURL: DEMO_URL,
    browserName: 'chromium',
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'cpu', testMatch: ['cpu.spec.ts', 'hostile.spec.ts', 'package.spec.ts', 'firefox.spec.ts'], use: { launchOptions: chromiumLaunch(false) } },
    { name: 'webgpu', testMatch: ['webgpu.spec.ts'], use: { launchOptions: chromiumLaunch(true) } },
  ],
});
