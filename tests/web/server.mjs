// A plain static file server for the browser tests: what any static host does, nothing more.
//   /sub/dir/…   dist/ (the demo, under a sub-path, as on a project page)
//   /consumer/…  the consumer app built against the packed tarball (tests/web/.work/consumer/dist)
//   /fixtures/…  test-only weight files and manifests (tests/web/.work/fixtures)
//   /__requests  the paths requested so far (JSON); /__requests/reset empties the list
// Every response says `Cache-Control: no-store`, so a request the page makes always reaches this
// server: "no weight request" in the log means the Cache API served the weights.
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(here, '../..');
export const PORT = Number(process.env.LEDIFLOW_TEST_PORT ?? 4179);
// The same defaults and variables as paths.ts.
const work = resolve(process.env.LEDIFLOW_TEST_WORK ?? join(here, '.work'));
const mounts = [
  ['/sub/dir/', resolve(process.env.LEDIFLOW_TEST_DIST ?? join(repo, 'dist'))],
  ['/consumer/', join(work, 'consumer/dist')],
  ['/fixtures/', join(work, 'fixtures')],
];
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ldf': 'application/octet-stream',
};
let requests = [];

createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (path === '/__health') return res.end('ok');
  if (path === '/__requests') {
    res.setHeader('Content-Type', 'application/json');
    return res.end(JSON.stringify(requests));
  }
  if (path === '/__requests/reset') {
    requests = [];
    return res.end('ok');
  }
  requests.push(path);
  // /__cut/NAME: the fixture NAME announced whole, then cut off after half its bytes (a download
  // that breaks off mid-stream).
  if (path.startsWith('/__cut/')) {
    const bytes = (() => {
      try {
        return readFileSync(join(work, 'fixtures', path.slice('/__cut/'.length).replace(/[/\\]/g, '')));
      } catch {
        return null;
      }
    })();
    if (!bytes) return notFound(res);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
    return res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.destroy(), 200));
  }
  const mount = mounts.find(([prefix]) => path.startsWith(prefix));
  if (!mount) return notFound(res);
  const [prefix, dir] = mount;
  let file = normalize(join(dir, path.slice(prefix.length)));
  if (!file.startsWith(dir)) return notFound(res);
  try {
    if (statSync(file).isDirectory()) file = join(file, 'index.html');
    const { size } = statSync(file);
    res.writeHead(200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'no-store',
    });
    createReadStream(file).pipe(res);
  } catch {
    notFound(res);
  }
}).listen(PORT, '127.0.0.1', () => console.log(`test server on http://127.0.0.1:${PORT}/sub/dir/`));

function notFound(res) {
  res.writeHead(404, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
  res.end('not found');
}
