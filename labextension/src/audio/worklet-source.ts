/**
 * The source text of the two AudioWorklet modules, loaded from Blob URLs so the
 * JupyterLab builder's webpack needs no worklet loader. The DSP classes are the very
 * ones the main bundle (and the tests) import: their `toString()` is bound to fixed
 * names here, and the thin processor shells below only wire them together.
 */
import { CaptureCore } from './dsp/capture-core';
import { floatToPcm16, pcm16ToFloat } from './dsp/pcm';
import { PlaybackCore } from './dsp/playback-core';
import { Resampler } from './dsp/resampler';

export const CAPTURE_PROCESSOR = 'gemini-live-capture';
export const PLAYBACK_PROCESSOR = 'gemini-live-playback';

/** Options the capture processor reads from `processorOptions`. */
export interface ICaptureProcessorOptions {
  targetRate: number;
  frameSamples: number;
}

/** Options the playback processor reads from `processorOptions`. */
export interface IPlaybackProcessorOptions {
  sourceRate: number;
  minTargetMs?: number;
  maxTargetMs?: number;
  reportMs?: number;
}

const CAPTURE_SHELL = `
class GeminiLiveCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.stopped = false;
    this.core = new CaptureCore(
      new Resampler(sampleRate, o.targetRate, 128),
      floatToPcm16,
      frame => this.port.postMessage(frame, [frame]),
      o.frameSamples,
      128
    );
    this.port.onmessage = event => {
      if (event.data && event.data.type === 'stop') this.stopped = true;
    };
  }
  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) this.core.process(input[0]);
    return !this.stopped;
  }
}
registerProcessor('${CAPTURE_PROCESSOR}', GeminiLiveCapture);
`;

const PLAYBACK_SHELL = `
class GeminiLivePlayback extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.core = new PlaybackCore(
      new Resampler(o.sourceRate, sampleRate, 4096),
      pcm16ToFloat,
      Object.assign({}, o, { rate: sampleRate })
    );
    this.stopped = false;
    this.starts = 0;
    this.drains = 0;
    this.quanta = 0;
    this.reportEvery = Math.max(1, Math.round(((o.reportMs || 50) * sampleRate) / 128000));
    this.port.onmessage = event => this.command(event.data);
  }
  command(m) {
    if (m.type === 'audio') this.core.push(new Int16Array(m.pcm));
    else if (m.type === 'end') this.core.endTurn();
    else if (m.type === 'interrupt') this.core.interrupt();
    else if (m.type === 'stop') this.stopped = true;
  }
  process(inputs, outputs) {
    const out = outputs[0];
    this.core.render(out[0]);
    for (let c = 1; c < out.length; c++) out[c].set(out[0]);
    const core = this.core;
    if (core.starts !== this.starts) {
      this.starts = core.starts;
      this.port.postMessage({ type: 'started', playedMs: core.playedMs });
    }
    if (core.drains !== this.drains) {
      this.drains = core.drains;
      this.port.postMessage({ type: 'drained', playedMs: core.playedMs });
    }
    if (++this.quanta >= this.reportEvery) {
      this.quanta = 0;
      this.port.postMessage({
        type: 'report',
        state: core.state,
        playedMs: core.playedMs,
        bufferedMs: core.bufferedMs,
        targetMs: core.targetMs,
        underruns: core.underruns,
        meanSquare: core.takeLevel()
      });
    }
    return !this.stopped;
  }
}
registerProcessor('${PLAYBACK_PROCESSOR}', GeminiLivePlayback);
`;

function bind(name: string, value: { toString(): string }): string {
  return `const ${name} = (${value.toString()});\n`;
}

export function captureModuleSource(): string {
  return (
    bind('Resampler', Resampler) +
    bind('floatToPcm16', floatToPcm16) +
    bind('CaptureCore', CaptureCore) +
    CAPTURE_SHELL
  );
}

export function playbackModuleSource(): string {
  return (
    bind('Resampler', Resampler) +
    bind('pcm16ToFloat', pcm16ToFloat) +
    bind('PlaybackCore', PlaybackCore) +
    PLAYBACK_SHELL
  );
}

const loaded = new WeakMap<BaseAudioContext, Set<string>>();

/** Add a worklet module to a context once, through a Blob URL. */
export async function addWorkletModule(
  context: BaseAudioContext,
  name: string,
  source: string
): Promise<void> {
  const done = loaded.get(context) ?? new Set<string>();
  if (done.has(name)) {
    return;
  }
  const url = URL.createObjectURL(
    new Blob([source], { type: 'text/javascript' })
  );
  try {
    await context.audioWorklet.addModule(url);
  } finally {
    URL.revokeObjectURL(url);
  }
  done.add(name);
  loaded.set(context, done);
}
