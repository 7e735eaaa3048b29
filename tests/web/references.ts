/**
 * Native references: the `lediflow` binary samples the same seeds with the same settings and
 * writes raw RGBA8 (`--raw`), which the browser's pixels are compared against.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

import { LEDIFLOW_BIN, REFS, SHIPPED_BASELINE, SHIPPED_MODEL, TINY_MODEL } from './paths.js';

export interface ReferenceSpec {
  /** One `.ldf` file, or several whose networks make one model (the CLI loads them as parts). */
  model: string | string[];
  seed: number;
  n: number;
  solver: 'heun' | 'midpoint' | 'euler' | 'rk4' | 'ab2';
  steps: number;
  method: 'lediflow' | 'baseline';
  latentSteps: number;
}

/** The samples the specs compare against; the browser side uses exactly these settings. */
export const REFERENCES = {
  /** The demo's first grid: seed 0, four images, midpoint × 2, latent midpoint × 8 (the runtime's defaults). */
  shipped: { model: SHIPPED_MODEL, seed: 0, n: 4, solver: 'midpoint', steps: 2, method: 'lediflow', latentSteps: 8 },
  shippedBaseline: { model: [SHIPPED_MODEL, SHIPPED_BASELINE], seed: 0, n: 2, solver: 'midpoint', steps: 2, method: 'baseline', latentSteps: 8 },
  /** SwiftShader is slow: one image, one flow step, one latent step. */
  tiny: { model: TINY_MODEL, seed: 5, n: 1, solver: 'heun', steps: 1, method: 'lediflow', latentSteps: 1 },
  /** Adams–Bashforth's second step adds two velocities, the first kept from the step before. */
  tinyAb2: { model: TINY_MODEL, seed: 6, n: 1, solver: 'ab2', steps: 2, method: 'lediflow', latentSteps: 1 },
} satisfies Record<string, ReferenceSpec>;

export type ReferenceName = keyof typeof REFERENCES;

/** The `.ldf` header's metadata: `sha256` is the data hash `finishLoad()` reports. */
export function ldfMetadata(path: string): Record<string, string> {
  const fd = openSync(path, 'r');
  try {
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const length = Number(lengthBytes.readBigUInt64LE());
    const header = Buffer.alloc(length);
    readSync(fd, header, 0, length, 8);
    return JSON.parse(header.toString('utf8')).__metadata__;
  } finally {
    closeSync(fd);
  }
}

const files = (spec: ReferenceSpec) => (Array.isArray(spec.model) ? spec.model : [spec.model]);

export function referencePath(name: ReferenceName): string {
  const spec: ReferenceSpec = REFERENCES[name];
  const identity = JSON.stringify({
    spec,
    model: files(spec).map((f) => (existsSync(f) ? ldfMetadata(f).sha256 : null)),
    bin: existsSync(LEDIFLOW_BIN) ? statSync(LEDIFLOW_BIN).mtimeMs : null,
  });
  const key = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return join(REFS, `${name}-${key}.rgba`);
}

/** Makes the reference unless a current one exists; returns why it could not, or null. */
export function makeReference(name: ReferenceName): string | null {
  const spec: ReferenceSpec = REFERENCES[name];
  const missing = files(spec).find((f) => !existsSync(f));
  if (missing) return `no model file ${missing}`;
  if (!existsSync(LEDIFLOW_BIN)) return `no lediflow binary at ${LEDIFLOW_BIN} (set LEDIFLOW_BIN or build it)`;
  const out = referencePath(name);
  if (existsSync(out)) return null;
  mkdirSync(REFS, { recursive: true });
  const args = ['sample', '--model', modelArgument(name, spec), '--seed', String(spec.seed), '--n', String(spec.n), '--solver', spec.solver];
  args.push('--steps', String(spec.steps), '--method', spec.method, '--latent-steps', String(spec.latentSteps));
  args.push('--out', `${out}.png`, '--raw', out);
  try {
    execFileSync(LEDIFLOW_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    return null;
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return `lediflow ${args.join(' ')} failed: ${stderr || (e as Error).message}`;
  }
}

/** A file, or for several files a directory of `ema-N.ldf` links, which the CLI loads as parts of one model. */
function modelArgument(name: string, spec: ReferenceSpec): string {
  if (!Array.isArray(spec.model)) return spec.model;
  const dir = join(REFS, `${name}-parts`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  spec.model.forEach((file, k) => symlinkSync(file, join(dir, `ema-${k}.ldf`)));
  return dir;
}

/** The reference's images (RGBA8 each), or a failed expectation's message. */
export function loadReference(name: ReferenceName): Uint8Array[] {
  const path = referencePath(name);
  if (!existsSync(path)) throw new Error(`no native reference for '${name}' (${path}); see the global setup's log`);
  const bytes = new Uint8Array(readFileSync(path));
  const n = REFERENCES[name].n;
  const size = bytes.length / n;
  return Array.from({ length: n }, (_, k) => bytes.subarray(k * size, (k + 1) * size));
}
