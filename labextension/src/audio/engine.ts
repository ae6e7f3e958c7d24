/**
 * The audio devices of one conversation: an AudioContext at the native rate, the
 * microphone capture and the model player. Created from a user gesture (Start), as
 * browsers only let a context run after one.
 */
import { MicCapture } from './capture';
import { insecureContextError } from './microphone';
import { IPlayerCallbacks, ModelPlayer } from './player';

export interface IEngineOptions extends IPlayerCallbacks {
  inputRate: number;
  /** Microphone frame length, ms (the server's `audio.frame_ms`). */
  frameMs: number;
  outputRate: number;
  onFrame: (frame: ArrayBuffer) => void;
}

/** What a conversation does with the model's voice (ModelPlayer, or a test's fake). */
export interface IVoicePlayer {
  /** Total model audio played in this session, in ms. */
  readonly playedMs: number;
  /** Model audio is queued or sounding. */
  readonly speaking: boolean;
  enqueue(pcm: ArrayBuffer): void;
  endTurn(): void;
  /** Fade out now and drop what is queued. */
  interrupt(): void;
}

/** What a conversation needs of its audio devices (AudioEngine, or a test's fake). */
export interface IAudioDevices {
  readonly player: IVoicePlayer | null;
  startPlayer(options: IEngineOptions): Promise<void>;
  startCapture(options: IEngineOptions): Promise<void>;
  close(): Promise<void>;
}

export class AudioEngine implements IAudioDevices {
  readonly context: AudioContext;
  player: ModelPlayer | null = null;
  capture: MicCapture | null = null;

  /** Call synchronously inside the click handler so the context may start. */
  constructor() {
    this.context = new AudioContext({ latencyHint: 'interactive' });
    void this.context.resume().catch(() => undefined);
    if (this.context.state !== 'running') {
      // Not started from a gesture (a conversation resumed after a reload): the
      // first click or key press anywhere lets the sound start.
      const resume = () => {
        document.removeEventListener('pointerdown', resume, true);
        document.removeEventListener('keydown', resume, true);
        void this.context.resume().catch(() => undefined);
      };
      document.addEventListener('pointerdown', resume, true);
      document.addEventListener('keydown', resume, true);
    }
  }

  /** Start the speaker side; model audio can play even without a microphone. */
  async startPlayer(options: IEngineOptions): Promise<void> {
    // Outside a secure context there is no AudioWorklet (nor microphone) at all.
    if (!window.isSecureContext || !this.context.audioWorklet) {
      throw insecureContextError();
    }
    this.player = await ModelPlayer.start(
      this.context,
      options.outputRate,
      options
    );
  }

  /** Start the microphone; throws a MicrophoneError with advice when it cannot. */
  async startCapture(options: IEngineOptions): Promise<void> {
    this.capture = await MicCapture.start({
      context: this.context,
      targetRate: options.inputRate,
      frameMs: options.frameMs,
      onFrame: options.onFrame
    });
  }

  async close(): Promise<void> {
    this.capture?.stop();
    this.player?.stop();
    this.capture = null;
    this.player = null;
    if (this.context.state !== 'closed') {
      await this.context.close().catch(() => undefined);
    }
  }
}
