/**
 * Voice-to-voice latency of spoken turns: from the end of the user's speech to the
 * first model audio actually played. The end of speech is the last microphone frame
 * sent above a level threshold (automatic activity detection). Typed text and
 * push-to-talk turns are not measured: they end at a click or a key release, which
 * cannot be compared with the end of a voice, so `skipTurn()` drops them.
 */
export class LatencyTracker {
  private lastVoiceAt: number | null = null;
  private waiting = false;
  private _last: number | null = null;
  private readonly samples: number[] = [];

  /** @param thresholdDb - frames louder than this count as speech. */
  constructor(private readonly thresholdDb = -45) {}

  /** Latency of the last measured spoken turn in ms, or null before the first one. */
  get last(): number | null {
    return this._last;
  }

  /** How many spoken turns were measured in this session. */
  get count(): number {
    return this.samples.length;
  }

  /** The median over the session's measured spoken turns, or null before the first. */
  get median(): number | null {
    const n = this.samples.length;
    if (n === 0) {
      return null;
    }
    const sorted = [...this.samples].sort((a, b) => a - b);
    const mid = Math.floor(n / 2);
    return n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /** Each microphone frame that was sent as the user's voice, with its level. */
  micFrame(levelDb: number, now: number): void {
    if (levelDb > this.thresholdDb) {
      this.lastVoiceAt = now;
      this.waiting = true;
    }
  }

  /** The user's turn ended by typed text or a push-to-talk release: not measured. */
  skipTurn(): void {
    this.lastVoiceAt = null;
    this.waiting = false;
  }

  /** The model's first audio of a response reached the speaker; returns the latency. */
  modelAudioStarted(now: number): number | null {
    const end = this.lastVoiceAt;
    if (!this.waiting || end === null) {
      return null;
    }
    this.waiting = false;
    this._last = Math.max(0, now - end);
    this.samples.push(this._last);
    return this._last;
  }

  /** The user barged in: nothing pending is measurable. */
  reset(): void {
    this.lastVoiceAt = null;
    this.waiting = false;
  }

  /** The conversation is over: its measurements go too. */
  clear(): void {
    this.reset();
    this._last = null;
    this.samples.length = 0;
  }
}
