/**
 * Latency of the last turn: from the end of the user's speech to the first model audio
 * actually played. With automatic activity detection the end of speech is estimated
 * as the last microphone frame above a level threshold; with push-to-talk it is the
 * moment the key was released (`activity_end`).
 */
export class LatencyTracker {
  private lastVoiceAt: number | null = null;
  private speechEndAt: number | null = null;
  private waiting = false;
  private _last: number | null = null;

  /** @param thresholdDb - frames louder than this count as speech. */
  constructor(private readonly thresholdDb = -45) {}

  /** Latency of the last measured turn in ms, or null before the first one. */
  get last(): number | null {
    return this._last;
  }

  /** Each microphone frame that was sent, with its level. */
  micFrame(levelDb: number, now: number): void {
    if (levelDb > this.thresholdDb) {
      this.lastVoiceAt = now;
      this.speechEndAt = null;
      this.waiting = true;
    }
  }

  /** Push-to-talk release: the end of speech is known exactly. */
  activityEnd(now: number): void {
    this.speechEndAt = now;
    this.waiting = true;
  }

  /** A typed turn: measure from the moment it was sent. */
  textSent(now: number): void {
    this.activityEnd(now);
  }

  /** The model's first audio of a response reached the speaker; returns the latency. */
  modelAudioStarted(now: number): number | null {
    const end = this.speechEndAt ?? this.lastVoiceAt;
    if (!this.waiting || end === null) {
      return null;
    }
    this.waiting = false;
    this._last = Math.max(0, now - end);
    return this._last;
  }

  /** The user barged in or a new session started: nothing pending is measurable. */
  reset(): void {
    this.lastVoiceAt = null;
    this.speechEndAt = null;
    this.waiting = false;
  }
}
