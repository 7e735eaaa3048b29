/**
 * Finding, fetching and caching weight files (runs in the worker).
 *
 * A manifest names each model's file, byte count and SHA-256: the hash of the whole file, header
 * and configuration included (`sha256sum`'s, scripts/make-manifest.py writes it). The wasm hashes
 * every byte it is given and `finishLoad(sha256)` refuses a file whose hash differs before it
 * builds anything, so a file that fails is never used. With a hash, the file is kept in the Cache
 * API under a key built from it, so a new model version is a new key, a reload reads no byte from
 * the network, and older versions of the same model are deleted once the new one has loaded.
 */

import { LeDiFlowError } from './errors.js';

export interface ManifestEntry {
  file: string;
  sha256: string;
  bytes?: number;
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
