/**
 * What a cell draws, for the model's eyes: PNG and JPEG outputs as they are when small
 * enough, SVG rasterised, anything larger scaled down on a canvas; at most
 * `images_per_response` per tool response, each within `image_bytes` decoded.
 */
import { BUDGETS, IBudgets } from './budgets';
import { IMAGE_TYPES, IOutputJson, joinText } from './summary';

/** An image of `tool_response.images` (base64). */
export interface IToolImage {
  mime_type: 'image/png' | 'image/jpeg' | 'image/webp';
  data: string;
}

/** An image output: base64 for PNG/JPEG, the markup for SVG. */
export interface IImageSource {
  mime_type: string;
  data: string;
}

/** Fits one image to the budgets; null when it cannot be made to fit. */
export interface IImageScaler {
  fit(source: IImageSource, budgets: IBudgets): Promise<IToolImage | null>;
}

export function base64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

/** The image outputs of a cell, in order (one per output, its first image type). */
export function outputImages(outputs: IOutputJson[]): IImageSource[] {
  const found: IImageSource[] = [];
  for (const output of outputs) {
    const data = output.data ?? {};
    const mime = IMAGE_TYPES.find(type => type in data);
    if (mime) {
      const text = joinText(data[mime]);
      found.push({
        mime_type: mime,
        data: mime === 'image/svg+xml' ? text : text.replace(/\s+/g, '')
      });
    }
  }
  return found;
}

/** The images of `outputs` that fit, at most `images_per_response`. */
export async function toolImages(
  outputs: IOutputJson[],
  scaler: IImageScaler,
  budgets: IBudgets = BUDGETS
): Promise<IToolImage[]> {
  const images: IToolImage[] = [];
  for (const source of outputImages(outputs)) {
    if (images.length >= budgets.images_per_response) {
      break;
    }
    const image = await scaler.fit(source, budgets).catch(() => null);
    if (image && base64Bytes(image.data) <= budgets.image_bytes) {
      images.push(image);
    }
  }
  return images;
}

/** The browser's scaler: an <img> decodes, a canvas scales and re-encodes. */
export const canvasScaler: IImageScaler = {
  async fit(source, budgets) {
    const element = await loadImage(dataUrl(source));
    // An SVG without a size decodes as 0×0 in some browsers.
    const width = element.naturalWidth || 800;
    const height = element.naturalHeight || 600;
    const scale = Math.min(
      1,
      budgets.image_long_side_px / Math.max(width, height)
    );
    const raster =
      source.mime_type === 'image/png' || source.mime_type === 'image/jpeg';
    if (
      raster &&
      scale === 1 &&
      base64Bytes(source.data) <= budgets.image_bytes
    ) {
      return {
        mime_type: source.mime_type as IToolImage['mime_type'],
        data: source.data
      };
    }
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const context = canvas.getContext('2d');
    if (!context) {
      return null;
    }
    // Transparent SVG and PNG backgrounds would be black in a JPEG.
    context.fillStyle = '#fff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(element, 0, 0, canvas.width, canvas.height);
    for (const [mime, quality] of [
      ['image/png', undefined],
      ['image/jpeg', 0.85],
      ['image/jpeg', 0.6]
    ] as const) {
      const data = canvas.toDataURL(mime, quality).split(',')[1] ?? '';
      if (data && base64Bytes(data) <= budgets.image_bytes) {
        return { mime_type: mime, data };
      }
    }
    return null;
  }
};

function dataUrl(source: IImageSource): string {
  return source.mime_type === 'image/svg+xml'
    ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(source.data)}`
    : `data:${source.mime_type};base64,${source.data}`;
}

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const element = new Image();
    element.onload = () => resolve(element);
    element.onerror = () => reject(new Error('the image did not decode'));
    element.src = url;
  });
}
