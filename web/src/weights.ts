/**
 * Finding, fetching, caching and streaming weight files into the wasm (runs in the worker).
 *
 * A manifest names each model's file, byte count and SHA-256: the hash of the whole file, header
 * and configuration included (`sha256sum`'s, scripts/make-manifest.py writes it). The wasm hashes
 * every byte it is given and `finishLoad(sha256)` refuses a file whose hash differs before it
 * builds anything, so a file that fails is never used. With a hash, the file is kept in the Cache
 * API under a key built from it, so a new model version is a new key, a reload reads no byte from
 * the network, and older versions of the same model are deleted once the new one has loaded.
 */

import type { Generator } from '../pkg/webgpu/lediflow.js';
import { LeDiFlowError, toErrorPayload } from './errors.js';
import type { WeightsSource } from './protocol.js';
import type { LoadProgress, ModelInfo } from './types.js';

/** What streaming uses of the wasm generator (crate/wasm/src/bindings.rs). */
type Loader = Pick<Generator, 'load' | 'cancelLoad' | 'finishLoad'>;

export interface ManifestEntry {
  file: string;
  sha256: string;
  bytes?: number;
  /** The networks the file holds (scripts/make-manifest.py writes them; fixtures may not). */
  networks?: unknown;
  /** The configuration's name (`s64`, `s128`): pairs a model with its baseline's file. */
  config?: unknown;
}

export interface Manifest {
  models: Record<string, ManifestEntry>;
}

const CACHE_NAME = 'lediflow-weights';

export async function fetchManifest(url: string): Promise<Manifest> {
  // Revalidate: the manifest is small and is what tells us a new model version exists.
  const response = await fetchOk(url, 'manifest', { cache: 'no-cache' });
  let manifest: unknown;
  try {
    manifest = await response.json();
  } catch (e) {
    throw new LeDiFlowError('BadWeights', `the manifest at ${url} is not JSON: ${(e as Error).message}`);
  }
  const models = (manifest as Manifest | null)?.models;
  if (!models || typeof models !== 'object') {
    throw new LeDiFlowError('BadWeights', `the manifest at ${url} has no "models" object`);
  }
  return manifest as Manifest;
}

/** The manifest entry for these weights: by name, else by file name, else the only entry. */
export function pickEntry(
  manifest: Manifest,
  manifestUrl: string,
  model: string | null,
  weightsFile: string | null,
): { name: string; entry: ManifestEntry } {
  const entries = Object.entries(manifest.models);
  const found = model
    ? entries.find(([name]) => name === model)
    : (entries.find(([, e]) => weightsFile !== null && e.file === weightsFile) ??
      (entries.length === 1 ? entries[0] : undefined));
  if (!found) {
    const names = entries.map(([name]) => name).join(', ');
    if (!model && !weightsFile) {
      throw new LeDiFlowError('InvalidOptions', `the manifest at ${manifestUrl} names several models (${names}): pass \`model\``);
    }
    const wanted = model ? `model "${model}"` : `file "${weightsFile}"`;
    throw new LeDiFlowError('BadWeights', `the manifest at ${manifestUrl} has no entry for ${wanted} (it has ${names})`);
  }
  const [name, entry] = found;
  if (typeof entry.file !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
    throw new LeDiFlowError('BadWeights', `the manifest entry "${name}" needs a "file" and a 64-digit hex "sha256"`);
  }
  return { name, entry };
}

export async function fetchOk(url: string, what: string, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new LeDiFlowError('Network', `cannot fetch the ${what} from ${url}: ${(e as Error).message}`);
  }
  if (!response.ok) {
    throw new LeDiFlowError('Network', `cannot fetch the ${what} from ${url}: HTTP ${response.status} ${response.statusText}`.trim());
  }
  return response;
}

/**
 * The Cache API, where the browser offers it: it needs a secure context, and some private modes
 * refuse it. Without it the weights simply come from the network every time.
 */
async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE_NAME);
  } catch {
    return null;
  }
}

/** Cache keys are URLs; this one is never fetched, it only names (model, hash). */
function cacheKey(name: string, sha256: string): string {
  return new URL(`/.lediflow-weights/${encodeURIComponent(name)}/${sha256}.ldf`, self.location.origin).href;
}

export async function cachedWeights(name: string, sha256: string): Promise<Response | null> {
  const cache = await openCache();
  try {
    return (await cache?.match(cacheKey(name, sha256))) ?? null;
  } catch {
    return null;
  }
}

/** Stores a verified file. */
export async function storeWeights(name: string, sha256: string, chunks: Uint8Array[]): Promise<void> {
  const cache = await openCache();
  try {
    const headers = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(totalLength(chunks)) };
    await cache?.put(cacheKey(name, sha256), new Response(new Blob(chunks as BlobPart[]), { headers }));
  } catch {
    // A full quota only costs the next visit a download.
  }
}

/** Deletes every other version of this model: once a version has loaded, the others are stale. */
export async function deleteStaleWeights(name: string, sha256: string): Promise<void> {
  const cache = await openCache();
  if (!cache) return;
  const keep = cacheKey(name, sha256);
  const prefix = keep.slice(0, keep.lastIndexOf('/') + 1);
  try {
    for (const request of await cache.keys()) {
      if (request.url.startsWith(prefix) && request.url !== keep) await cache.delete(request);
    }
  } catch {
    // Stale entries only cost disk space.
  }
}

export async function forgetWeights(name: string, sha256: string): Promise<void> {
  try {
    await (await openCache())?.delete(cacheKey(name, sha256));
  } catch {
    // Nothing to forget.
  }
}

function totalLength(chunks: Uint8Array[]): number {
  return chunks.reduce((sum, c) => sum + c.byteLength, 0);
}

/**
 * Streams one weight file into the wasm: from the Cache API when a manifest pins its hash and a
 * verified copy is there, else from the network (kept in the cache once the wasm accepted it).
 */
export async function loadWeights(
  wasm: Loader,
  source: WeightsSource,
  onProgress: (progress: LoadProgress) => void,
): Promise<ModelInfo> {
  const manifest = source.manifestUrl ? await fetchManifest(source.manifestUrl) : null;
  const picked = manifest ? pickEntry(manifest, source.manifestUrl!, source.model, source.weightsFile) : null;
  const useCache = source.cache && picked !== null;
  const weightsUrl = source.weightsUrl ?? (picked && new URL(picked.entry.file, source.manifestUrl!).href);
  if (!weightsUrl) throw new LeDiFlowError('InvalidOptions', 'give the weights URL, or a manifest that names the file');

  if (useCache) {
    const { name, entry } = picked;
    const cached = await cachedWeights(name, entry.sha256);
    let info: ModelInfo | null = null;
    if (cached?.body) {
      try {
        info = await streamInto(wasm, cached, entry.sha256, true, entry.bytes, onProgress, null);
      } catch (e) {
        // A damaged cache entry must not brick the page: forget it and download again. (The
        // wasm's errors are plain `Error`s with a `kind`, not `LeDiFlowError`s.)
        if (toErrorPayload(e).kind !== 'BadWeights') throw e;
        await forgetWeights(name, entry.sha256);
      }
    }
    if (!info) {
      const keep: Uint8Array[] = [];
      info = await streamInto(wasm, await fetchOk(weightsUrl, 'weights'), entry.sha256, false, entry.bytes, onProgress, keep);
      await storeWeights(name, entry.sha256, keep);
    }
    await deleteStaleWeights(name, entry.sha256);
    return info;
  }
  const response = await fetchOk(weightsUrl, 'weights');
  return streamInto(wasm, response, picked?.entry.sha256 ?? null, false, picked?.entry.bytes, onProgress, null);
}

/** Streams a response body into `load()`, reporting progress at most every 100 ms. */
async function streamInto(
  wasm: Loader,
  response: globalThis.Response,
  expectedSha256: string | null,
  fromCache: boolean,
  manifestBytes: number | undefined,
  onProgress: (progress: LoadProgress) => void,
  keep: Uint8Array[] | null,
): Promise<ModelInfo> {
  const lengthHeader = Number(response.headers.get('Content-Length'));
  const knownTotal = manifestBytes ?? (lengthHeader > 0 ? lengthHeader : null);
  const started = performance.now();
  let lastReport = -Infinity;
  let state = { bytesReceived: 0, totalBytes: knownTotal, tensorsReady: 0, tensorsTotal: null as number | null };
  /** `force` skips the throttle; `done` means nothing is left to wait for (ETA 0). */
  const report = (force: boolean, done = false) => {
    const now = performance.now();
    if (!force && now - lastReport < 100) return;
    lastReport = now;
    const total = state.totalBytes ?? knownTotal;
    const seconds = (now - started) / 1000;
    const rate = seconds > 0 ? state.bytesReceived / seconds : 0;
    const etaSeconds = done ? 0 : total !== null && rate > 0 ? Math.max(0, (total - state.bytesReceived) / rate) : null;
    onProgress({ phase: 'weights', ...state, totalBytes: total, etaSeconds, fromCache });
  };

  report(true);
  const reader = response.body!.getReader();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new LeDiFlowError('Network', `the weight download broke off: ${(e as Error).message}`);
      }
      if (chunk.done) break;
      const progress = wasm.load(chunk.value);
      state = { ...progress, totalBytes: progress.totalBytes ?? knownTotal };
      keep?.push(chunk.value);
      report(false);
    }
  } catch (e) {
    // A half-streamed file must not become the start of the next one.
    wasm.cancelLoad();
    throw e;
  }
  report(true);
  // The wasm compares the whole file's hash with the manifest's before it builds anything: a
  // file that fails never becomes (part of) the model.
  const loaded = await wasm.finishLoad(expectedSha256 ?? undefined);
  report(true, true);
  return { ...loaded, bytes: state.bytesReceived, source: fromCache ? 'cache' : 'network' };
}
