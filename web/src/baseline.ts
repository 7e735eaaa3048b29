/**
 * `lediflow/baseline`: the baseline flow model this package ships (Gaussian prior, for
 * `method: 'baseline'`), as options for `addWeights`:
 *
 * ```ts
 * import { shippedBaseline } from 'lediflow/baseline';
 * await generator.addWeights(shippedBaseline);
 * ```
 *
 * A module of its own because a bundler emits a file named by `new URL(…, import.meta.url)` for
 * every app that imports the module naming it: only apps that import this one carry the 4.9 MB.
 */

import type { AddWeightsOptions } from './types.js';

export const shippedBaseline: AddWeightsOptions = {
  weights: new URL('../../models/baseline-64.ldf', import.meta.url),
  manifest: new URL('../../models/manifest.json', import.meta.url),
  // By name: a bundler may rename the file (content hashes), and the manifest has two entries.
  model: 'baseline-64',
};
