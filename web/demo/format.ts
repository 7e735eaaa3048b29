/** Human-readable text for bytes, durations, costs and errors. */

import { LeDiFlowError, type ErrorKind, type GenerateResult } from '../src/index.js';

const TITLES: Record<ErrorKind, string> = {
  NoAdapter: 'No WebGPU adapter',
  DeviceLost: 'The GPU device was lost',
  OutOfMemory: 'Out of memory',
  BadWeights: 'The weight file is damaged or not a LeDiFlow model',
  InvalidOptions: 'Invalid settings',
  InvalidState: 'Not ready',
  Backend: 'The compute backend failed',
  Network: 'Could not download',
  Crashed: 'The generator crashed',
};

/** One sentence a visitor can act on, with the error's kind for bug reports. */
export function describeError(error: unknown): string {
  if (error instanceof LeDiFlowError) return `${TITLES[error.kind]} (${error.kind}): ${error.message}`;
  if (error instanceof Error) return `Unexpected error: ${error.message}`;
  return `Unexpected error: ${String(error)}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function formatSeconds(seconds: number): string {
  return seconds < 60 ? `${Math.ceil(seconds)} s` : `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * "NFE 8 latent + 1 decoder + 3 flow · 41 ms (latent 5 ms, decoder 3 ms, flow 33 ms)"; with
 * `perImage`, the batch's times are divided by its size (images of a batch run together).
 */
export function describeCost(result: GenerateResult, perImage = false): string {
  const { nfe } = result;
  const share = perImage ? result.images.length : 1;
  const times = {
    latentMs: result.times.latentMs / share,
    decoderMs: result.times.decoderMs / share,
    flowMs: result.times.flowMs / share,
    totalMs: result.times.totalMs / share,
  };
  const nfeText =
    nfe.latent + nfe.decoder + nfe.encoder === 0
      ? `NFE ${nfe.flow}`
      : `NFE ${nfe.latent} latent + ${nfe.decoder} decoder${nfe.encoder ? ` + ${nfe.encoder} encoder` : ''} + ${nfe.flow} flow`;
  const stages = [
    times.latentMs ? `latent ${formatMs(times.latentMs)}` : '',
    times.decoderMs ? `decoder ${formatMs(times.decoderMs)}` : '',
    `flow ${formatMs(times.flowMs)}`,
  ].filter(Boolean);
  return `${nfeText} · ${perImage && share > 1 ? '≈' : ''}${formatMs(times.totalMs)} (${stages.join(', ')})`;
}
