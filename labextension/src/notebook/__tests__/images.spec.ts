import { BUDGETS } from '../budgets';
import { base64Bytes, IImageScaler, outputImages, toolImages } from '../images';

const png = (n: number) => ({
  output_type: 'display_data',
  data: { 'image/png': `iVBOR${'A'.repeat(n)}\n`, 'text/plain': 'fig' }
});

describe('images of outputs', () => {
  it('finds PNG, JPEG and SVG outputs in order, base64 without line breaks', () => {
    const found = outputImages([
      { output_type: 'stream', text: 'no' },
      png(3),
      {
        output_type: 'display_data',
        data: { 'image/svg+xml': ['<svg>', '</svg>'] }
      }
    ]);
    expect(found).toEqual([
      { mime_type: 'image/png', data: 'iVBORAAA' },
      { mime_type: 'image/svg+xml', data: '<svg></svg>' }
    ]);
  });

  it('sends at most two per response and none that stays too large', async () => {
    const fits: IImageScaler = {
      fit: async source =>
        source.data.length > 100
          ? { mime_type: 'image/png', data: 'A'.repeat(2 * 1024 * 1024) }
          : { mime_type: 'image/png', data: source.data }
    };
    const images = await toolImages([png(1), png(500), png(2), png(3)], fits);
    expect(images.map(image => image.data)).toEqual(['iVBORA', 'iVBORAA']);
    expect(images.length).toBeLessThanOrEqual(BUDGETS.images_per_response);
  });

  it('skips an image the scaler cannot decode', async () => {
    const broken: IImageScaler = {
      fit: () => Promise.reject(new Error('bad'))
    };
    expect(await toolImages([png(4)], broken)).toEqual([]);
  });

  it('measures base64 as decoded bytes', () => {
    expect(base64Bytes('AAAA')).toBe(3);
    expect(base64Bytes('AAA=')).toBe(2);
    expect(base64Bytes('AA==')).toBe(1);
  });
});
