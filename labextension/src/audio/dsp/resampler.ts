/**
 * Band-limited sample-rate conversion: a polyphase windowed-sinc (Kaiser) FIR.
 *
 * The class is self-contained on purpose: its source text is serialised into the
 * AudioWorklet module with `toString()`, so methods may only use `this`, their
 * arguments and JavaScript globals, never other module-level names.
 */
export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  /** Interpolation factor L of the rational ratio outRate/inRate = L/M. */
  readonly up: number;
  /** Decimation factor M. */
  readonly down: number;
  /** Taps per output sample (per polyphase branch). */
  readonly taps: number;
  private readonly bank: Float32Array;
  private readonly history: Float32Array;
  private readonly passthrough: boolean;
  private filled = 0;
  private pos = 0;
  private phase = 0;

  /**
   * @param maxBlock - the input block size the history is sized for; longer inputs
   *   are consumed in pieces, so it only tunes memory, not correctness.
   * @param attenuationDb - stop-band attenuation the Kaiser window is designed for.
   */
  constructor(
    inRate: number,
    outRate: number,
    maxBlock = 128,
    attenuationDb = 80
  ) {
    if (!(inRate > 0 && outRate > 0)) {
      throw new Error(`bad sample rates ${inRate} -> ${outRate}`);
    }
    this.inRate = inRate;
    this.outRate = outRate;
    this.passthrough = inRate === outRate;
    const ratio = this.ratio(Math.round(inRate), Math.round(outRate));
    this.up = ratio[0];
    this.down = ratio[1];
    this.taps = this.passthrough ? 1 : this.tapCount(attenuationDb);
    this.bank = new Float32Array(this.up * this.taps);
    if (!this.passthrough) {
      this.design(attenuationDb);
    }
    this.history = new Float32Array(this.taps + Math.max(1, maxBlock));
    this.reset();
  }

  /** Outputs that `process` may write for `inputLength` inputs (size buffers with it). */
  maxOutput(inputLength: number): number {
    return Math.ceil((inputLength * this.up) / this.down) + 2;
  }

  /** Forget the signal (after an interruption): the next output starts from silence. */
  reset(): void {
    this.history.fill(0);
    // Half a filter of leading zeros centres the first output on the first input.
    this.filled = this.passthrough ? 0 : this.taps >> 1;
    this.pos = 0;
    this.phase = 0;
  }

  /**
   * Resample `length` samples of `input` into `output`; returns how many were written.
   * Allocation-free: it runs on the audio thread for every render quantum.
   */
  process(
    input: Float32Array,
    output: Float32Array,
    length = input.length
  ): number {
    if (this.passthrough) {
      const n = Math.min(length, output.length);
      for (let i = 0; i < n; i++) {
        output[i] = input[i];
      }
      return n;
    }
    let written = 0;
    let offset = 0;
    while (offset < length) {
      const take = Math.min(this.history.length - this.filled, length - offset);
      for (let i = 0; i < take; i++) {
        this.history[this.filled + i] = input[offset + i];
      }
      this.filled += take;
      offset += take;
      written = this.drain(output, written);
    }
    return written;
  }

  /**
   * Push half a filter of silence through so the last real samples leave the filter
   * (end of a turn); with the half-filter lead-in of `reset` the output then lasts as
   * long as the input did.
   */
  flush(output: Float32Array): number {
    let written = 0;
    let zeros = this.taps >> 1;
    while (zeros > 0 && !this.passthrough) {
      const take = Math.min(this.history.length - this.filled, zeros);
      for (let i = 0; i < take; i++) {
        this.history[this.filled + i] = 0;
      }
      this.filled += take;
      zeros -= take;
      written = this.drain(output, written);
    }
    return written;
  }

  private drain(output: Float32Array, start: number): number {
    const taps = this.taps;
    const history = this.history;
    const bank = this.bank;
    let written = start;
    while (this.pos + taps <= this.filled && written < output.length) {
      const base = this.phase * taps;
      let acc = 0;
      for (let j = 0; j < taps; j++) {
        acc += history[this.pos + j] * bank[base + j];
      }
      output[written++] = acc;
      this.phase += this.down;
      while (this.phase >= this.up) {
        this.phase -= this.up;
        this.pos++;
      }
    }
    const shift = Math.min(this.pos, this.filled);
    history.copyWithin(0, shift, this.filled);
    this.filled -= shift;
    this.pos -= shift;
    return written;
  }

  /** The reduced ratio L/M; very fine ratios are approximated with 1024 phases. */
  private ratio(inRate: number, outRate: number): [number, number] {
    let a = inRate;
    let b = outRate;
    while (b) {
      const t = a % b;
      a = b;
      b = t;
    }
    const up = outRate / a;
    const down = inRate / a;
    if (up <= 1024) {
      return [up, down];
    }
    return [1024, Math.max(1, Math.round((1024 * inRate) / outRate))];
  }

  /** Kaiser's estimate of the length for the wanted attenuation and transition. */
  private tapCount(attenuationDb: number): number {
    const transition =
      (0.1 * Math.min(this.inRate, this.outRate)) / this.inRate;
    const length = (attenuationDb - 7.95) / (2.285 * 2 * Math.PI * transition);
    return 2 * Math.ceil(length / 2);
  }

  private design(attenuationDb: number): void {
    // Cut off a little below the lower Nyquist: the transition band (10 % of the
    // lower rate) ends above it, but what aliases there lands above ~7 kHz at 16 kHz.
    const cutoff = (0.475 * Math.min(this.inRate, this.outRate)) / this.inRate;
    const beta = 0.1102 * (attenuationDb - 8.7);
    const half = this.taps / 2;
    const norm = this.besselI0(beta);
    for (let p = 0; p < this.up; p++) {
      const frac = p / this.up;
      let sum = 0;
      for (let j = 0; j < this.taps; j++) {
        const u = frac + half - 1 - j;
        const x = 2 * cutoff * u * Math.PI;
        const sinc = x === 0 ? 1 : Math.sin(x) / x;
        const r = u / half;
        const taper =
          r * r >= 1 ? 0 : this.besselI0(beta * Math.sqrt(1 - r * r)) / norm;
        const value = 2 * cutoff * sinc * taper;
        this.bank[p * this.taps + j] = value;
        sum += value;
      }
      // Each branch gets unit DC gain, so no phase-dependent ripple is left.
      for (let j = 0; j < this.taps; j++) {
        this.bank[p * this.taps + j] /= sum;
      }
    }
  }

  private besselI0(x: number): number {
    let sum = 1;
    let term = 1;
    const q = (x * x) / 4;
    for (let k = 1; k < 50 && term > 1e-12 * sum; k++) {
      term *= q / (k * k);
      sum += term;
    }
    return sum;
  }
}
