/** Level meters: RMS in dBFS, with a peak that falls back slowly so speech reads well. */

/** The quietest level shown; also what silence reports. */
export const FLOOR_DB = -90;

/** RMS of PCM16 samples relative to full scale (0..1). */
export function pcm16Rms(samples: Int16Array): number {
  if (samples.length === 0) {
    return 0;
  }
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] / 32768;
    sum += v * v;
  }
  return Math.sqrt(sum / samples.length);
}

export function rmsToDb(rms: number): number {
  return rms > 0 ? Math.max(FLOOR_DB, 20 * Math.log10(rms)) : FLOOR_DB;
}

/** Mean square (what the playback worklet reports) to dBFS. */
export function meanSquareToDb(meanSquare: number): number {
  return meanSquare > 0
    ? Math.max(FLOOR_DB, 10 * Math.log10(meanSquare))
    : FLOOR_DB;
}

/** A meter's display value: jumps up at once, then falls at `fallDbPerSecond`. */
export class LevelMeter {
  private peak = FLOOR_DB;
  private peakAt = 0;

  constructor(private readonly fallDbPerSecond = 30) {}

  /** The level to show at time `now` (ms). */
  display(now: number): number {
    const fallen =
      this.peak - ((now - this.peakAt) / 1000) * this.fallDbPerSecond;
    return Math.max(FLOOR_DB, fallen);
  }

  /** Feed a measured level (dBFS) at time `now` (ms). */
  update(db: number, now: number): void {
    if (db >= this.display(now)) {
      this.peak = db;
      this.peakAt = now;
    }
  }

  /** 0..1 for a bar: `rangeDb` below full scale is empty. */
  fraction(now: number, rangeDb = 60): number {
    return Math.min(1, Math.max(0, (this.display(now) + rangeDb) / rangeDb));
  }

  reset(): void {
    this.peak = FLOOR_DB;
    this.peakAt = 0;
  }
}
