/**
 * The capture worklet's work: microphone blocks at the context rate -> 16 kHz PCM16
 * frames of fixed length. Self-contained (serialised into the worklet); the resampler
 * and the PCM writer are passed in, so the worklet shell wires the same classes the
 * tests exercise.
 */

/** What CaptureCore needs of a resampler. */
export interface ICaptureResampler {
  maxOutput(inputLength: number): number;
  process(input: Float32Array, output: Float32Array, length?: number): number;
}

export type Pcm16Writer = (
  src: Float32Array,
  dst: Int16Array,
  dstOffset: number,
  count: number,
  srcOffset: number
) => void;

export class CaptureCore {
  private readonly scratch: Float32Array;
  private readonly block: number;
  private frame: Int16Array;
  private fill = 0;

  /**
   * @param post - receives each full frame's buffer, to be transferred (not copied).
   * @param frameSamples - 320 = 20 ms at 16 kHz.
   * @param block - the render quantum the scratch buffer is sized for.
   */
  constructor(
    private readonly resampler: ICaptureResampler,
    private readonly writePcm16: Pcm16Writer,
    private readonly post: (frame: ArrayBuffer) => void,
    private readonly frameSamples = 320,
    block = 128
  ) {
    this.block = block;
    this.scratch = new Float32Array(resampler.maxOutput(block));
    this.frame = new Int16Array(frameSamples);
  }

  /** One render quantum of mono input; posts every frame it completes. */
  process(input: Float32Array): void {
    for (let start = 0; start < input.length; start += this.block) {
      const length = Math.min(this.block, input.length - start);
      const source =
        start === 0 && length === input.length
          ? input
          : input.subarray(start, start + length);
      const produced = this.resampler.process(source, this.scratch, length);
      this.emit(produced);
    }
  }

  private emit(produced: number): void {
    let offset = 0;
    while (offset < produced) {
      const take = Math.min(produced - offset, this.frameSamples - this.fill);
      this.writePcm16(this.scratch, this.frame, this.fill, take, offset);
      this.fill += take;
      offset += take;
      if (this.fill === this.frameSamples) {
        const full = this.frame.buffer as ArrayBuffer;
        // The posted buffer is transferred (detached), so a frame — every 20-40 ms, not
        // every quantum — is the one allocation on this thread.
        this.frame = new Int16Array(this.frameSamples);
        this.fill = 0;
        this.post(full);
      }
    }
  }
}
