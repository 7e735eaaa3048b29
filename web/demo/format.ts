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
  Aborted: 'Cancelled',
  Crashed: 'The generator crashed',
};

/** One sentence a visitor can act on, with the error's kind for bug reports. */
export function describeError(error: unknown): string {
  if (error instanceof LeDiFlowError) return `${TITLES[error.kind]} (${error.kind}): ${error.message}`;
  if (error instanceof Error) return `Unexpected error: ${error.message}`;
  return `Unexpected error: ${String(error)}`;
}

/** Decimal units (1 MB = 10⁶ bytes), as the README and the package registry give sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

export function formatSeconds(seconds: number): string {
  return seconds < 60 ? `${Math.ceil(seconds)} s` : `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * "NFE 8 latent + 1 decoder + 4 flow · 41 ms (latent 5 ms, decoder 3 ms, flow 33 ms)"; only the
 * stages that ran are named. Inpainting runs the encoder and the decoder, which the runtime times
 * as one stage ("encoder + decoder"). With `perImage`, the batch's times are divided by its size
 * (images of a batch run together).
 */
export function describeCost(result: GenerateResult, perImage = false): string {
  const { nfe, times } = result;
  const share = perImage ? result.images.length : 1;
  const nfeParts = [
    nfe.latent ? `${nfe.latent} latent` : '',
    nfe.encoder ? `${nfe.encoder} encoder` : '',
    nfe.decoder ? `${nfe.decoder} decoder` : '',
    `${nfe.flow} flow`,
  ].filter(Boolean);
  const nfeText = nfeParts.length === 1 ? `NFE ${nfe.flow}` : `NFE ${nfeParts.join(' + ')}`;
  const decoderStage = nfe.encoder ? 'encoder + decoder' : 'decoder';
  // `stageTimes: false` leaves the stages untimed (null): the whole call only.
  const stages = [
    times.latentMs ? `latent ${formatMs(times.latentMs / share)}` : '',
    times.decoderMs ? `${decoderStage} ${formatMs(times.decoderMs / share)}` : '',
    times.flowMs !== null ? `flow ${formatMs(times.flowMs / share)}` : '',
  ].filter(Boolean);
  const total = `${nfeText} · ${perImage && share > 1 ? '≈' : ''}${formatMs(times.totalMs / share)}`;
  return stages.length > 0 ? `${total} (${stages.join(', ')})` : `${total} (whole call)`;
}
