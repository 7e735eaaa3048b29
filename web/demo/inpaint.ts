/**
 * The Inpaint section: a source image at the model's size, a mask painted over it (brush,
 * eraser, clear, or "mask centre" from the keyboard), and Fill, which regenerates the masked
 * pixels and keeps every other pixel exactly.
 */

import type { RgbaImage } from '../src/index.js';
import { describeCost } from './format.js';
import { runTask } from './forms.js';
import { button, context, draw, read } from './images.js';
import { byId, hide, type Session } from './session.js';
import { showTab } from './tabs.js';

/** Mask overlay colour: translucent magenta stands out on landscapes. */
const OVERLAY = [255, 0, 200, 140] as const;

export class Inpainter {
  side = 0;
  source: ImageData | null = null;
  /** One byte per pixel, 1 where the pixel is regenerated (the wasm API's mask). */
  mask = new Uint8Array(0);
  result: RgbaImage | null = null;

  private readonly sourceCanvas = byId('inpaint-source') as HTMLCanvasElement;
  private readonly maskCanvas = byId('inpaint-mask') as HTMLCanvasElement;
  private readonly resultCanvas = byId('inpaint-result') as HTMLCanvasElement;
  private readonly fill = byId('inpaint-fill') as HTMLButtonElement;
  private readonly cancel = byId('inpaint-cancel') as HTMLButtonElement;
  private readonly errorBox = byId('inpaint-error');

  constructor(private readonly session: Session) {
    session.onReady((generator) => {
      this.side = generator.model.imageSize;
      this.mask = new Uint8Array(this.side * this.side);
      for (const canvas of [this.sourceCanvas, this.maskCanvas, this.resultCanvas]) {
        canvas.width = canvas.height = this.side;
      }
      this.source = null;
      this.updateFill();
    });
    this.setupPainting();
    this.setupFiles();
    byId('mask-clear').addEventListener('click', () => this.setMask(() => 0));
    byId('mask-centre').addEventListener('click', () => {
      const lo = this.side / 4;
      const hi = (3 * this.side) / 4;
      this.setMask((x, y) => Number(x >= lo && x < hi && y >= lo && y < hi));
    });
    const size = byId('brush-size') as HTMLInputElement;
    size.addEventListener('input', () => (byId('brush-size-value').textContent = size.value));
    this.fill.addEventListener('click', () => void this.run());
  }

  /** Takes a generated image (or any canvas at the model's size) as the new source. */
  useCanvas(canvas: HTMLCanvasElement, label: string): void {
    this.setSource(read(canvas), label);
    showTab('inpaint');
  }

  private setSource(image: ImageData, label: string): void {
    this.source = image;
    draw(this.sourceCanvas, image);
    byId('inpaint-source-caption').textContent = label;
    this.updateFill();
  }

  private updateFill(): void {
    this.fill.disabled = !this.session.current || !this.source;
  }

  private setMask(value: (x: number, y: number) => number): void {
    for (let y = 0; y < this.side; y++) for (let x = 0; x < this.side; x++) this.mask[y * this.side + x] = value(x, y);
    this.drawMask();
  }

  private drawMask(): void {
    const overlay = new ImageData(this.side, this.side);
    this.mask.forEach((m, i) => {
      if (m) overlay.data.set(OVERLAY, i * 4);
    });
    context(this.maskCanvas).putImageData(overlay, 0, 0);
  }

  private setupPainting(): void {
    let painting = false;
    const paint = (event: PointerEvent) => {
      const rect = this.maskCanvas.getBoundingClientRect();
      const cx = ((event.clientX - rect.left) / rect.width) * this.side;
      const cy = ((event.clientY - rect.top) / rect.height) * this.side;
      const radius = Number((byId('brush-size') as HTMLInputElement).value) / 2;
      const erase = (document.querySelector('input[name=tool]:checked') as HTMLInputElement).value === 'eraser';
      for (let y = Math.floor(cy - radius); y <= Math.ceil(cy + radius); y++) {
        for (let x = Math.floor(cx - radius); x <= Math.ceil(cx + radius); x++) {
          const inside = x >= 0 && y >= 0 && x < this.side && y < this.side;
          if (inside && (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= radius * radius) this.mask[y * this.side + x] = erase ? 0 : 1;
        }
      }
      this.drawMask();
    };
    this.maskCanvas.addEventListener('pointerdown', (event) => {
      painting = true;
      this.maskCanvas.setPointerCapture(event.pointerId);
      paint(event);
    });
    this.maskCanvas.addEventListener('pointermove', (event) => painting && paint(event));
    for (const end of ['pointerup', 'pointercancel'] as const) this.maskCanvas.addEventListener(end, () => (painting = false));
  }

  private setupFiles(): void {
    const input = byId('inpaint-file') as HTMLInputElement;
    input.addEventListener('change', () => {
      if (input.files?.[0]) void this.openFile(input.files[0]);
      input.value = '';
    });
    const drop = byId('inpaint-drop');
    drop.addEventListener('dragover', (event) => {
      event.preventDefault();
      drop.classList.add('dragging');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('dragging'));
    drop.addEventListener('drop', (event) => {
      event.preventDefault();
      drop.classList.remove('dragging');
      const file = event.dataTransfer?.files[0];
      if (file) void this.openFile(file);
    });
  }

  /** Centre-crops the file to a square and scales it to the model's size, fully opaque. */
  private async openFile(file: File): Promise<void> {
    hide(this.errorBox);
    try {
      if (!this.side) throw new Error('the model is still loading');
      const bitmap = await createImageBitmap(file);
      const crop = Math.min(bitmap.width, bitmap.height);
      const canvas = document.createElement('canvas');
      canvas.width = canvas.height = this.side;
      const ctx = context(canvas);
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(bitmap, (bitmap.width - crop) / 2, (bitmap.height - crop) / 2, crop, crop, 0, 0, this.side, this.side);
      const image = read(canvas);
      for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
      this.setSource(image, `${file.name}, resized to ${this.side}×${this.side}`);
    } catch (error) {
      this.errorBox.textContent = `Cannot open ${file.name} as an image: ${(error as Error).message}`;
      this.errorBox.hidden = false;
    }
  }

  private run(): Promise<void> {
    const caption = byId('inpaint-result-caption');
    return runTask(this.session, this.errorBox, { disable: [this.fill], cancel: this.cancel, note: caption }, async (signal) => {
      if (!this.source) throw new Error('choose an image first');
      if (!this.mask.some(Boolean)) throw new Error('paint the part to regenerate first');
      const seed = Number((byId('inpaint-seed') as HTMLInputElement).value);
      delete caption.dataset.state;
      caption.textContent = 'Filling…';
      const result = await this.session.current!.inpaint({
        image: this.source,
        mask: this.mask,
        seed,
        signal,
        onStep: ({ step, steps, images }) => {
          draw(this.resultCanvas, images[0]);
          caption.textContent = `Solver step ${step} of ${steps}…`;
        },
      });
      this.result = result.images[0];
      draw(this.resultCanvas, this.result);
      caption.replaceChildren(
        `seed ${seed} · ${describeCost(result)} `,
        button('Keep editing this', () => this.setSource(read(this.resultCanvas), 'the previous fill')),
      );
      caption.dataset.state = 'done';
    }).then(() => this.updateFill());
  }
}
