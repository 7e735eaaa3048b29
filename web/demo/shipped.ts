/**
 * The shipped weight files that the library's main module does not name, by manifest name: each
 * comes from the module of its own that names it (`lediflow/baseline`, `lediflow/landscapes-128`),
 * imported only when picked, so that the demo's bundle finds it under the name the bundler gave it.
 */

import type { AddWeightsOptions } from '../src/index.js';

const SHIPPED: Record<string, () => Promise<AddWeightsOptions>> = {
  'baseline-64': async () => (await import('../src/baseline.js')).shippedBaseline,
  'landscapes-128': async () => (await import('../src/landscapes128.js')).shippedLandscapes128,
  'baseline-128': async () => (await import('../src/landscapes128.js')).shippedBaseline128,
};

/** The options that load the shipped file of this manifest name; `null` for any other name. */
export async function shippedWeights(name: string | null | undefined): Promise<AddWeightsOptions | null> {
  const load = name ? SHIPPED[name] : undefined;
  return load ? load() : null;
}
