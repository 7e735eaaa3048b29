/** Where the browser tests find things. Plain Node; shared by the config, the setup and the specs. */

import { mkdtempSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = fileURLToPath(new URL('.', import.meta.url));
export const REPO = resolve(HERE, '../..');
/**
 * Generated inputs (references, fixtures, the consumer app): ignored by git, rebuilt on demand.
 * `LEDIFLOW_TEST_WORK`, `LEDIFLOW_TEST_RESULTS` and `LEDIFLOW_TEST_DIST` (the demo build served
 * under /sub/dir/) move them, with `LEDIFLOW_TEST_PORT`, so that two runs in one checkout do not
 * overwrite each other's fixtures and results.
 */
export const WORK = resolve(process.env.LEDIFLOW_TEST_WORK ?? join(HERE, '.work'));
export const REFS = join(WORK, 'refs');
export const FIXTURES = join(WORK, 'fixtures');
export const CONSUMER = join(WORK, 'consumer');
export const RESULTS = resolve(process.env.LEDIFLOW_TEST_RESULTS ?? join(REPO, 'test-results', 'web'));
export const DIST = resolve(process.env.LEDIFLOW_TEST_DIST ?? join(REPO, 'dist'));

export const PORT = Number(process.env.LEDIFLOW_TEST_PORT ?? 4179);
export const ORIGIN = `http://127.0.0.1:${PORT}`;
/** The demo is served under a sub-path, as on a project page. */
export const DEMO_URL = `${ORIGIN}/sub/dir/`;

export const SHIPPED_MODEL = join(REPO, 'models', 'landscapes-64.ldf');
export const SHIPPED_BASELINE = join(REPO, 'models', 'baseline-64.ldf');
export const SHIPPED_MANIFEST = join(REPO, 'models', 'manifest.json');
export const TINY_MODEL = join(REPO, 'models', 'tiny-test.ldf');

const cargoTarget = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'lediflow', 'target');
export const LEDIFLOW_BIN = process.env.LEDIFLOW_BIN ?? join(cargoTarget, 'debug', 'lediflow');

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
/** A Firefox other than the Debian 13 root's (`FIREFOX_BIN`), or the system's firefox-esr. */
export const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/bin/firefox-esr';
/** The Debian 13 root with firefox-esr 153 and lavapipe (scripts/firefox-root.sh), and its launcher. */
export const FIREFOX_ROOT = process.env.LEDIFLOW_FIREFOX_ROOT ?? join(homedir(), '.cache', 'lediflow', 'firefox-trixie');
export const FIREFOX_ROOT_LAUNCHER = join(HERE, 'firefox-root.sh');

/**
 * Debian's chromium with exactly the flags of shared/BROWSER.md: Playwright's own defaults
 * (about 30 flags, among them --enable-unsafe-swiftshader) are dropped with
 * `ignoreDefaultArgs: true`, so the pipe Playwright talks over is named here too.
 * Without `--enable-unsafe-webgpu` there is no adapter: the CPU fallback path.
 */
export function chromiumLaunch(webgpu: boolean) {
  return {
    executablePath: CHROMIUM,
    ignoreDefaultArgs: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      `--user-data-dir=${mkdtempSync(join(tmpdir(), 'lediflow-chromium-'))}`,
      '--remote-debugging-pipe',
      ...(webgpu ? ['--enable-unsafe-webgpu'] : []),
      'about:blank',
    ],
  };
}
