/**
 * The playback worklet's work: model speech (PCM16 at 24 kHz, in bursts) -> the
 * context rate, through an adaptive jitter buffer. Self-contained (serialised into the
 * worklet); the resampler and the PCM reader are passed in.
 *
 * Gemini sends ~240 ms bursts, sometimes slower than real time, so playback waits for
 * `targetMs` of audio (or the end of the turn) before it starts; each underrun grows
 * that target, and a long stable stretch shrinks it back.
 */

export interface IPlaybackResampler {
  maxOutput(inputLength: number): number;
  process(input: Float32Array, output: Float32Array, length?: number): number;
  flush(output: Float32Array): number;
  reset(): void;
}

export type Pcm16Reader = (
  src: Int16Array,
  dst: Float32Array,
  count: number
) => void;

export interface IPlaybackOptions {
  /** The AudioContext's rate. */
  rate: number;
  minTargetMs?: number;
  maxTargetMs?: number;
  /** Added to the target after each underrun. */
  growMs?: number;
  /** Taken off the target after this long without an underrun. */
  stableMs?: number;
  shrinkMs?: number;
  /** Longest fade-out on interruption; also capped at one render quantum. */
  fadeMs?: number;
  quantum?: number;
}

export type PlaybackState = 'idle' | 'buffering' | 'playing';

export class PlaybackCore {
  state: PlaybackState = 'idle';
  /** Counters the worklet shell watches to report edges to the main thread. */
  starts = 0;
  drains = 0;
  underruns = 0;
  /** Model audio handed to the speaker, in samples at the context rate. */
  playedSamples = 0;
  targetSamples: number;
  /** Sum of squares and count of the samples rendered since the last `takeLevel`. */
  private energy = 0;
  private energyCount = 0;
  private ring: Float32Array;
  private readIndex = 0;
  private count = 0;
  private turnEnded = false;
  /** Audio went into the resampler since the last flush, so its tail is still inside. */
  private tailPending = false;
  private stableSamples = 0;
  private floats: Float32Array;
  private resampled: Float32Array;
  private readonly fadeTail: Float32Array;
  private fadeLength = 0;
  private readonly rate: number;
  private readonly minTarget: number;
  private readonly maxTarget: number;
  private readonly grow: number;
  private readonly stable: number;
  private readonly shrink: number;
  private readonly fadeSamples: number;

  constructor(
    private readonly resampler: IPlaybackResampler,
    private readonly readPcm16: Pcm16Reader,
    options: IPlaybackOptions
  ) {
    const rate = options.rate;
    const ms = (value: number | undefined, fallback: number) =>
      Math.round(((value === undefined ? fallback : value) * rate) / 1000);
    this.rate = rate;
    this.minTarget = ms(options.minTargetMs, 60);
    this.maxTarget = ms(options.maxTargetMs, 480);
    this.grow = ms(options.growMs, 60);
    this.stable = ms(options.stableMs, 8000);
    this.shrink = ms(options.shrinkMs, 20);
    const quantum = options.quantum === undefined ? 128 : options.quantum;
    this.fadeSamples = Math.max(1, Math.min(quantum, ms(options.fadeMs, 5)));
    this.fadeTail = new Float32Array(this.fadeSamples);
    this.targetSamples = this.minTarget;
    this.ring = new Float32Array(rate * 4);
    this.floats = new Float32Array(0);
    this.resampled = new Float32Array(0);
  }

  /** Audio queued and not yet played, in ms. */
  get bufferedMs(): number {
    return (this.count * 1000) / this.rate;
  }

  get playedMs(): number {
    return (this.playedSamples * 1000) / this.rate;
  }

  get targetMs(): number {
    return (this.targetSamples * 1000) / this.rate;
  }

  /** Queue one chunk of model PCM16 (runs on message, so it may allocate). */
  push(pcm: Int16Array): void {
    if (pcm.length === 0) {
      return;
    }
    if (this.floats.length < pcm.length) {
      this.floats = new Float32Array(pcm.length);
    }
    this.readPcm16(pcm, this.floats, pcm.length);
    this.ensureResampled(this.resampler.maxOutput(pcm.length));
    const n = this.resampler.process(this.floats, this.resampled, pcm.length);
    this.append(this.resampled, n);
    this.tailPending = true;
    if (this.state === 'idle') {
      this.state = 'buffering';
      this.turnEnded = false;
    }
  }

  /** The turn is complete: play out what is queued even if below the target. */
  endTurn(): void {
    if (this.tailPending) {
      this.ensureResampled(this.resampler.maxOutput(4096));
      this.append(this.resampled, this.resampler.flush(this.resampled));
      // The next turn starts from a clean filter, so each turn lasts exactly its input.
      this.resampler.reset();
      this.tailPending = false;
    }
    this.turnEnded = this.state !== 'idle';
  }

  /**
   * Barge-in: the next rendered quantum fades what was playing to zero within
   * `fadeSamples` and is silent after; everything queued is dropped now, so audio of
   * a following turn can be pushed before that quantum renders.
   */
  interrupt(): void {
    this.fadeLength = 0;
    if (this.state === 'playing') {
      const n = Math.min(this.count, this.fadeSamples);
      for (let i = 0; i < n; i++) {
        const gain = 1 - (i + 1) / this.fadeSamples;
        this.fadeTail[i] =
          this.ring[(this.readIndex + i) % this.ring.length] * gain;
      }
      this.fadeLength = n;
    }
    this.readIndex = 0;
    this.count = 0;
    this.resampler.reset();
    this.tailPending = false;
    this.turnEnded = false;
    this.state = 'idle';
  }

  /** Fill one render quantum (audio thread: no allocation). */
  render(out: Float32Array): void {
    let written = 0;
    if (this.fadeLength > 0) {
      written = Math.min(this.fadeLength, out.length);
      for (let i = 0; i < written; i++) {
        out[i] = this.fadeTail[i];
      }
      this.playedSamples += written;
      this.fadeLength = 0;
    }
    if (
      this.state === 'buffering' &&
      (this.count >= this.targetSamples || this.turnEnded)
    ) {
      this.state = 'playing';
      this.starts++;
    }
    if (this.state === 'playing') {
      written = this.play(out, written);
    }
    out.fill(0, written);
    this.measure(out);
  }

  /** Mean square level of what was rendered since the last call, then reset. */
  takeLevel(): number {
    const level = this.energyCount ? this.energy / this.energyCount : 0;
    this.energy = 0;
    this.energyCount = 0;
    return level;
  }

  private play(out: Float32Array, start: number): number {
    const n = Math.min(this.count, out.length - start);
    for (let i = 0; i < n; i++) {
      out[start + i] = this.ring[this.readIndex];
      this.readIndex = (this.readIndex + 1) % this.ring.length;
    }
    this.count -= n;
    this.playedSamples += n;
    const written = start + n;
    if (written < out.length) {
      this.starved();
    } else {
      this.settle(n);
    }
    return written;
  }

  private starved(): void {
    if (this.turnEnded) {
      this.state = 'idle';
      this.turnEnded = false;
      this.drains++;
      return;
    }
    this.underruns++;
    this.targetSamples = Math.min(
      this.maxTarget,
      this.targetSamples + this.grow
    );
    this.stableSamples = 0;
    this.state = 'buffering';
  }

  private settle(played: number): void {
    this.stableSamples += played;
    if (this.stableSamples >= this.stable) {
      this.stableSamples = 0;
      this.targetSamples = Math.max(
        this.minTarget,
        this.targetSamples - this.shrink
      );
    }
  }

  private measure(out: Float32Array): void {
    for (let i = 0; i < out.length; i++) {
      this.energy += out[i] * out[i];
    }
    this.energyCount += out.length;
  }

  private ensureResampled(size: number): void {
    if (this.resampled.length < size) {
      this.resampled = new Float32Array(size);
    }
  }

  private append(samples: Float32Array, n: number): void {
    if (this.count + n > this.ring.length) {
      this.growRing(this.count + n);
    }
    let write = (this.readIndex + this.count) % this.ring.length;
    for (let i = 0; i < n; i++) {
      this.ring[write] = samples[i];
      write = write + 1 === this.ring.length ? 0 : write + 1;
    }
    this.count += n;
  }

  private growRing(needed: number): void {
    let size = this.ring.length * 2;
    while (size < needed) {
      size *= 2;
    }
    const next = new Float32Array(size);
    for (let i = 0; i < this.count; i++) {
      next[i] = this.ring[(this.readIndex + i) % this.ring.length];
    }
    this.ring = next;
    this.readIndex = 0;
  }
}
