import { Resampler } from '../dsp/resampler';

function tone(
  rate: number,
  freq: number,
  seconds: number,
  amplitude = 0.5
): Float32Array {
  const out = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < out.length; i++) {
    out[i] = amplitude * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return out;
}

/** Resample in render quanta of 128, as the worklet does. */
function resample(
  input: Float32Array,
  inRate: number,
  outRate: number
): Float32Array {
  const resampler = new Resampler(inRate, outRate, 128);
  const out = new Float32Array(resampler.maxOutput(input.length) + 128);
  const scratch = new Float32Array(resampler.maxOutput(128));
  let written = 0;
  for (let start = 0; start < input.length; start += 128) {
    const block = input.subarray(start, Math.min(start + 128, input.length));
    const n = resampler.process(block, scratch, block.length);
    out.set(scratch.subarray(0, n), written);
    written += n;
  }
  return out.subarray(0, written);
}

/** RMS of the steady part (filter transients trimmed at both ends). */
function steadyRms(signal: Float32Array, trim: number): number {
  let sum = 0;
  for (let i = trim; i < signal.length - trim; i++) {
    sum += signal[i] * signal[i];
  }
  return Math.sqrt(sum / (signal.length - 2 * trim));
}

const db = (ratio: number) => 20 * Math.log10(ratio);

describe('Resampler', () => {
  const inputRates = [48000, 44100, 96000, 22050];

  it.each(inputRates)(
    'passes 1 kHz from %i Hz to 16 kHz within 0.1 dB',
    inRate => {
      const input = tone(inRate, 1000, 0.5);
      const output = resample(input, inRate, 16000);
      const gain = steadyRms(output, 800) / steadyRms(input, 2000);
      expect(Math.abs(db(gain))).toBeLessThan(0.1);
    }
  );

  it.each([48000, 44100, 96000])(
    'attenuates 10 kHz from %i Hz by at least 60 dB',
    inRate => {
      const input = tone(inRate, 10000, 0.5);
      const output = resample(input, inRate, 16000);
      const gain = steadyRms(output, 800) / steadyRms(input, 2000);
      expect(db(gain)).toBeLessThan(-60);
    }
  );

  // The transition band is 10 % of the lower rate (6.8 to 8.4 kHz around the 7.6 kHz
  // cut-off at 16 kHz out): 9 kHz is already in the stop band. A band of 25 % would
  // let it through at about -36 dB.
  it.each([48000, 44100])(
    'attenuates 9 kHz from %i Hz by at least 60 dB (a narrow transition band)',
    inRate => {
      const input = tone(inRate, 9000, 0.5);
      const output = resample(input, inRate, 16000);
      const gain = steadyRms(output, 800) / steadyRms(input, 2000);
      expect(db(gain)).toBeLessThan(-60);
    }
  );

  it('produces the rate ratio of samples, with no drift', () => {
    const resampler = new Resampler(44100, 16000, 128);
    expect([resampler.up, resampler.down]).toEqual([160, 441]);
    const output = resample(new Float32Array(44100), 44100, 16000);
    // Lead-in is half a filter; missing samples are at most the other half.
    expect(output.length).toBeGreaterThan(16000 - resampler.taps);
    expect(output.length).toBeLessThanOrEqual(16000);
  });

  it('keeps a 1 kHz tone clean at 44.1 -> 16 kHz (SNR over 60 dB)', () => {
    const output = resample(tone(44100, 1000, 0.5), 44100, 16000);
    // Least-squares fit of a 1 kHz sinusoid; what is left is distortion and aliasing.
    let ss = 0;
    let sc = 0;
    let cc = 0;
    let ys = 0;
    let yc = 0;
    const from = 400;
    const to = output.length - 400;
    for (let i = from; i < to; i++) {
      const s = Math.sin((2 * Math.PI * 1000 * i) / 16000);
      const c = Math.cos((2 * Math.PI * 1000 * i) / 16000);
      ss += s * s;
      sc += s * c;
      cc += c * c;
      ys += output[i] * s;
      yc += output[i] * c;
    }
    const det = ss * cc - sc * sc;
    const a = (ys * cc - yc * sc) / det;
    const b = (yc * ss - ys * sc) / det;
    let signal = 0;
    let noise = 0;
    for (let i = from; i < to; i++) {
      const fit =
        a * Math.sin((2 * Math.PI * 1000 * i) / 16000) +
        b * Math.cos((2 * Math.PI * 1000 * i) / 16000);
      signal += fit * fit;
      noise += (output[i] - fit) ** 2;
    }
    expect(10 * Math.log10(signal / noise)).toBeGreaterThan(60);
  });

  it('upsamples 24 kHz model speech to 48 kHz and 44.1 kHz without loss', () => {
    for (const outRate of [48000, 44100]) {
      const input = tone(24000, 1000, 0.5);
      const output = resample(input, 24000, outRate);
      const gain = steadyRms(output, 2000) / steadyRms(input, 1000);
      expect(Math.abs(db(gain))).toBeLessThan(0.1);
    }
  });

  it('passes equal rates through unchanged', () => {
    const input = tone(16000, 440, 0.01);
    expect(Array.from(resample(input, 16000, 16000))).toEqual(
      Array.from(input)
    );
  });

  it('flushes the tail so output lasts as long as the input', () => {
    const resampler = new Resampler(24000, 48000, 4096);
    const out = new Float32Array(resampler.maxOutput(2400) + 4096);
    let n = resampler.process(new Float32Array(2400).fill(0.25), out, 2400);
    n += resampler.flush(out.subarray(n));
    expect(Math.abs(n - 4800)).toBeLessThanOrEqual(2);
    // The last real sample got out: the flushed tail is not all silence.
    expect(out[n - resampler.taps]).toBeCloseTo(0.25, 2);
  });

  it('rejects nonsense rates', () => {
    expect(() => new Resampler(0, 16000)).toThrow(/bad sample rates/);
  });
});
