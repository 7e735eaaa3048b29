// `npm pack` / `npm publish` run this first (package.json "prepack"): an unbuilt checkout must
// never become a package without JS or wasm in it. The library (web/lib/) is compiled here, as it
// takes seconds; the two wasm modules take a Rust toolchain and minutes, so their absence fails
// the pack with the command that builds them. Every other file `files` names must exist too.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.cwd();
const { files } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const needed = files.filter((path) => !path.endsWith('/') && !path.startsWith('web/lib/'));
const missing = needed.filter((path) => !existsSync(join(root, path)));
if (missing.length) {
  const wasm = missing.some((path) => path.startsWith('web/pkg/')) ? ' Build the wasm runtime first: web/build-wasm.sh (or ./dev demo).' : '';
  console.error(`prepack: cannot pack, ${missing.length} file(s) missing: ${missing.join(', ')}.${wasm}`);
  process.exit(1);
}
execFileSync('npm', ['run', 'build:lib'], { cwd: root, stdio: 'inherit' });
if (!existsSync(join(root, 'web/lib/index.js'))) {
  console.error('prepack: npm run build:lib wrote no web/lib/index.js');
  process.exit(1);
}
