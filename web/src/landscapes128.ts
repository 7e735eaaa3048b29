/**
 * `lediflow/landscapes-128`: the 128×128 models this package ships, LeDiFlow and its baseline,
 * as options for `createGenerator` and `addWeights`:
 *
 * ```ts
 * import { shippedLandscapes128, shippedBaseline128 } from 'lediflow/landscapes-128';
 * const generator = await createGenerator({ ...shippedLandscapes128, backend: 'auto' });
 * await generator.addWeights(shippedBaseline128); // for method: 'baseline'
 * ```
 *
 * A module of its own, like `lediflow/baseline`: a bundler emits a file named by
 * `new URL(…, import.meta.url)` for every app that imports the module naming it, so only apps
 * that import this one carry its 16 MB. Without a bundler (`models/` served as it is),
 * `createGenerator({ model: 'landscapes-128' })` finds the same file through the manifest.
 */

import type { AddWeightsOptions } from './types.js';

const manifest = new URL('../../models/manifest.json', import.meta.url);

export const shippedLandscapes128: AddWeightsOptions = {
  weights: new URL('../../models/landscapes-128.ldf', import.meta.url),
  manifest,
  // By name: a bundler may rename the file (content hashes).
  model: 'landscapes-128',
};

export const shippedBaseline128: AddWeightsOptions = {
  weights: new URL('../../models/baseline-128.ldf', import.meta.url),
  manifest,
  model: 'baseline-128',
};
