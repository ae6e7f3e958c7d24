/**
 * PCM s16le <-> float conversion. Each function is self-contained because its source
 * is serialised into the AudioWorklet module.
 */

/** Write `count` floats from `src[srcOffset..]` as clamped, rounded int16 at `dst[dstOffset..]`. */
export function floatToPcm16(
  src: Float32Array,
  dst: Int16Array,
  dstOffset: number,
  count: number,
  srcOffset: number
): void {
  for (let i = 0; i < count; i++) {
    let v = src[srcOffset + i];
    // NaN fails both tests and becomes 0 in the Int16Array.
    v = v > 1 ? 1 : v < -1 ? -1 : v;
    // Asymmetric scale: -1 reaches -32768 and +1 reaches 32767 without wrapping.
    dst[dstOffset + i] = Math.round(v < 0 ? v * 32768 : v * 32767);
  }
}

/** Convert int16 samples to floats in [-1, 1). */
export function pcm16ToFloat(
  src: Int16Array,
  dst: Float32Array,
  count: number
): void {
  for (let i = 0; i < count; i++) {
    dst[i] = src[i] / 32768;
  }
}
