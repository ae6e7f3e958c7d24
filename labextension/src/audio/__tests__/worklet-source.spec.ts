import {
  CAPTURE_PROCESSOR,
  PLAYBACK_PROCESSOR,
  captureModuleSource,
  playbackModuleSource
} from '../worklet-source';

interface IFakePort {
  posted: unknown[];
  onmessage: ((event: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}

type Processor = {
  port: IFakePort;
  process(inputs: Float32Array[][], outputs: Float32Array[][]): boolean;
};

/**
 * Evaluate a module source the way AudioWorkletGlobalScope would: only the worklet
 * globals exist, so any leaked reference to a bundle-level name fails here.
 */
function load(
  source: string,
  rate: number
): Record<string, new (o: unknown) => Processor> {
  const registered: Record<string, new (o: unknown) => Processor> = {};
  class AudioWorkletProcessor {
    port: IFakePort = {
      posted: [],
      onmessage: null,
      postMessage(message: unknown) {
        this.posted.push(message);
      }
    };
  }
  const scope = new Function(
    'AudioWorkletProcessor',
    'registerProcessor',
    'sampleRate',
    '"use strict";\n' + source
  );
  scope(
    AudioWorkletProcessor,
    (name: string, ctor: new (o: unknown) => Processor) => {
      registered[name] = ctor;
    },
    rate
  );
  return registered;
}

describe('worklet module sources', () => {
  it('capture: registers and posts 640-byte frames from 44.1 kHz input', () => {
    const ctor = load(captureModuleSource(), 44100)[CAPTURE_PROCESSOR];
    const node = new ctor({
      processorOptions: { targetRate: 16000, frameSamples: 320 }
    });
    const input = new Float32Array(128).fill(0.3);
    for (let i = 0; i < 345; i++) {
      expect(node.process([[input]], [])).toBe(true);
    }
    const frames = node.port.posted as ArrayBuffer[];
    expect(frames.length).toBeGreaterThanOrEqual(49);
    expect(frames.every(f => f.byteLength === 640)).toBe(true);
    node.port.onmessage?.({ data: { type: 'stop' } });
    expect(node.process([[input]], [])).toBe(false);
  });

  it('playback: plays pushed audio, reports start, drain and played ms', () => {
    const ctor = load(playbackModuleSource(), 48000)[PLAYBACK_PROCESSOR];
    const node = new ctor({
      processorOptions: { sourceRate: 24000, reportMs: 50 }
    });
    const pcm = new Int16Array(2400).fill(10000); // 100 ms at 24 kHz
    node.port.onmessage?.({ data: { type: 'audio', pcm: pcm.buffer } });
    node.port.onmessage?.({ data: { type: 'end' } });
    const left = new Float32Array(128);
    const right = new Float32Array(128);
    let loud = 0;
    for (let i = 0; i < 60; i++) {
      node.process([], [[left, right]]);
      loud += left.filter(v => v > 0.2).length;
      expect(Array.from(right)).toEqual(Array.from(left));
    }
    expect(loud).toBeGreaterThan(4700);
    const messages = node.port.posted as { type: string; playedMs?: number }[];
    const types = messages.map(m => m.type);
    expect(types).toContain('started');
    expect(types).toContain('report');
    const drained = messages.find(m => m.type === 'drained');
    expect(drained?.playedMs).toBeCloseTo(100, 0);
  });

  it('playback: an interrupt message silences the voice within a quantum', () => {
    const ctor = load(playbackModuleSource(), 48000)[PLAYBACK_PROCESSOR];
    const node = new ctor({
      processorOptions: { sourceRate: 24000, reportMs: 50 }
    });
    const pcm = new Int16Array(24000).fill(10000); // 1 s at 24 kHz
    node.port.onmessage?.({ data: { type: 'audio', pcm: pcm.buffer } });
    const out = new Float32Array(128);
    for (let i = 0; i < 10; i++) {
      node.process([], [[out]]);
    }
    expect(out.some(v => v > 0.2)).toBe(true);
    node.port.onmessage?.({ data: { type: 'interrupt' } });
    node.process([], [[out]]); // the fade
    const after: number[] = [];
    for (let i = 0; i < 20; i++) {
      node.process([], [[out]]);
      after.push(...out);
    }
    expect(Math.max(...after.map(Math.abs))).toBe(0);
  });
});
