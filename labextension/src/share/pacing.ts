/**
 * How camera and screen frames are paced and sized before they go to the server: at
 * most one frame a second, scaled down to about 768 px on the long side (what the Live
 * API works with; bigger frames only cost upload and tokens). Pure logic with an
 * injected clock, so tests can drive time.
 */

/** The long side of a sent frame at most (px). */
export const MAX_LONG_SIDE = 768;
/** At least this long between two frames (ms): ≤ 1 fps. */
export const FRAME_INTERVAL_MS = 1000;

export interface ISize {
  width: number;
  height: number;
}

/** `width`×`height` scaled (never up) so its long side is at most `longSide`. */
export function scaledSize(
  width: number,
  height: number,
  longSide: number = MAX_LONG_SIDE
): ISize {
  if (!(width > 0) || !(height > 0)) {
    return { width: 0, height: 0 };
  }
  const scale = Math.min(1, longSide / Math.max(width, height));
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale))
  };
}

/** Time and timers, injectable (default: performance.now and setTimeout). */
export interface IClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: IClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>)
};

/**
 * Calls `grab` at most once per `intervalMs`, never while the previous grab is still
 * running (a slow encoder lowers the rate instead of piling frames up). The interval is
 * measured between the starts of two grabs.
 */
export class FramePacer {
  private timer: unknown = null;
  private running = false;
  private lastStart = -Infinity;

  constructor(
    private readonly grab: () => Promise<unknown>,
    private readonly clock: IClock = systemClock,
    readonly intervalMs: number = FRAME_INTERVAL_MS
  ) {}

  get active(): boolean {
    return this.running;
  }

  /** The first frame is grabbed at once. */
  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private schedule(ms: number): void {
    this.timer = this.clock.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.running) {
      return;
    }
    this.lastStart = this.clock.now();
    try {
      await this.grab();
    } catch (error) {
      console.warn('gemini-live: a shared frame could not be sent', error);
    }
    if (this.running) {
      const wait = this.lastStart + this.intervalMs - this.clock.now();
      this.schedule(Math.max(0, wait));
    }
  }
}
