/** Canvases: drawing RGBA8 images, figures with captions, PNG downloads. */

import type { RgbaImage } from '../src/index.js';

export function draw(canvas: HTMLCanvasElement, image: RgbaImage): void {
  if (canvas.width !== image.width || canvas.height !== image.height) {
    canvas.width = image.width;
    canvas.height = image.height;
  }
  const data = image instanceof ImageData ? image : new ImageData(new Uint8ClampedArray(image.data), image.width, image.height);
  context(canvas).putImageData(data, 0, 0);
}

/** The canvas's pixels exactly as drawn (opaque pixels survive putImageData/getImageData unchanged). */
export function read(canvas: HTMLCanvasElement): ImageData {
  return context(canvas).getImageData(0, 0, canvas.width, canvas.height);
}

export function context(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('this browser gives no 2D canvas context');
  return ctx;
}

export interface Figure {
  figure: HTMLElement;
  canvas: HTMLCanvasElement;
  caption: HTMLElement;
  actions: HTMLElement;
}

export function figure(label: string): Figure {
  const figure = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', label);
  const caption = document.createElement('figcaption');
  const text = document.createElement('span');
  text.className = 'caption-text';
  text.textContent = label;
  const actions = document.createElement('span');
  actions.className = 'actions';
  caption.append(text, actions);
  figure.append(canvas, caption);
  return { figure, canvas, caption: text, actions };
}

export function button(label: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement('button');
  element.type = 'button';
  element.textContent = label;
  element.addEventListener('click', onClick);
  return element;
}

export function downloadPng(canvas: HTMLCanvasElement, name: string): void {
  canvas.toBlob((blob) => {
    if (!blob) return;
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }, 'image/png');
}
