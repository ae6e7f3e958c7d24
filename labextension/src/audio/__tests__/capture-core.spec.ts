import { CaptureCore } from '../dsp/capture-core';
import { floatToPcm16 } from '../dsp/pcm';
import { Resampler } from '../dsp/resampler';

function run(
  rate: number,
  seconds: number,
  value: (t: number) => number
): ArrayBuffer[] {
  const frames: ArrayBuffer[] = [];
  const core = new CaptureCore(
    new Resampler(rate, 16000, 128),
    floatToPcm16,
    f => frames.push(f)
  );
  const block = new Float32Array(128);
  const quanta = Math.floor((rate * seconds) / 128);
  for (let q = 0; q < quanta; q++) {
    for (let i = 0; i < 128; i++) {
      block[i] = value((q * 128 + i) / rate);
    }
    core.process(block);
  }
  return frames;
}

describe('CaptureCore', () => {
  it('posts 20 ms frames of 320 samples at 16 kHz from a 44.1 kHz microphone', () => {
    const frames = run(44100, 1, () => 0.1);
    // One second is 50 frames, less the half-filter start-up.
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.length).toBeLessThanOrEqual(50);
    for (const frame of frames) {
      expect(frame.byteLength).toBe(640);
    }
    const last = new Int16Array(frames[frames.length - 1]);
    expect(last[100]).toBeCloseTo(3277, -1);
  });

  it('hands over a fresh buffer for each frame (transfer-safe)', () => {
    const frames = run(48000, 0.1, t => Math.sin(2 * Math.PI * 500 * t) * 0.5);
    expect(new Set(frames).size).toBe(frames.length);
  });

  it('clamps an overdriven microphone instead of wrapping around', () => {
    const frames = run(16000, 0.05, () => 3);
    const samples = new Int16Array(frames[0]);
    expect(Math.min(...samples)).toBe(32767);
  });

  it('accepts render quanta longer than its block size', () => {
    const frames: ArrayBuffer[] = [];
    const core = new CaptureCore(
      new Resampler(48000, 16000, 128),
      floatToPcm16,
      f => frames.push(f)
    );
    core.process(new Float32Array(48000 / 10).fill(0.2));
    expect(frames.length).toBe(4); // 100 ms minus the filter lead-in -> 4 full frames
  });
});
