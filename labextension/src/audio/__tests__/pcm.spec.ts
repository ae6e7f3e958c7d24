import { floatToPcm16, pcm16ToFloat } from '../dsp/pcm';

describe('floatToPcm16', () => {
  it('scales, rounds and clamps', () => {
    const src = Float32Array.from([0, 0.5, -0.5, 1, -1, 1.5, -2, NaN, 1e-6]);
    const dst = new Int16Array(src.length);
    floatToPcm16(src, dst, 0, src.length, 0);
    expect(Array.from(dst)).toEqual([
      0, 16384, -16384, 32767, -32768, 32767, -32768, 0, 0
    ]);
  });

  it('writes at offsets without touching the rest', () => {
    const src = Float32Array.from([9, 0.25, 0.25]);
    const dst = new Int16Array(4).fill(7);
    floatToPcm16(src, dst, 2, 2, 1);
    expect(Array.from(dst)).toEqual([7, 7, 8192, 8192]);
  });
});

describe('pcm16ToFloat', () => {
  it('maps the int16 range onto [-1, 1)', () => {
    const dst = new Float32Array(3);
    pcm16ToFloat(Int16Array.from([-32768, 0, 16384]), dst, 3);
    expect(Array.from(dst)).toEqual([-1, 0, 0.5]);
  });

  it('round-trips through floatToPcm16', () => {
    const original = Int16Array.from([-32768, -1234, -1, 0, 1, 4321, 32767]);
    const floats = new Float32Array(original.length);
    pcm16ToFloat(original, floats, original.length);
    const back = new Int16Array(original.length);
    floatToPcm16(floats, back, 0, original.length, 0);
    // Positive values come back within one step because the two scales differ.
    back.forEach((v, i) =>
      expect(Math.abs(v - original[i])).toBeLessThanOrEqual(1)
    );
  });
});
