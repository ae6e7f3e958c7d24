/**
 * Model speech playback through the playback worklet (jitter buffer, resampling to
 * the context rate, fast fade on interruption), with what was really played reported
 * back so the panel can tell the server (`playback {played_ms}`).
 */
import {
  IPlaybackProcessorOptions,
  PLAYBACK_PROCESSOR,
  addWorkletModule,
  playbackModuleSource
} from './worklet-source';

export interface IPlayerReport {
  state: 'idle' | 'buffering' | 'playing';
  playedMs: number;
  bufferedMs: number;
  targetMs: number;
  underruns: number;
  meanSquare: number;
}

export interface IPlayerCallbacks {
  /** First audio of a response reached the speaker. */
  onStarted?: (playedMs: number) => void;
  /** The turn's audio has all been played. */
  onDrained?: (playedMs: number) => void;
  /** About every 50 ms. */
  onReport?: (report: IPlayerReport) => void;
}

type WorkletMessage =
  | ({ type: 'report' } & IPlayerReport)
  | { type: 'started'; playedMs: number }
  | { type: 'drained'; playedMs: number };

export class ModelPlayer {
  private _playedMs = 0;
  private _state: IPlayerReport['state'] = 'idle';

  private constructor(private readonly node: AudioWorkletNode) {}

  static async start(
    context: AudioContext,
    sourceRate: number,
    callbacks: IPlayerCallbacks
  ): Promise<ModelPlayer> {
    await addWorkletModule(context, PLAYBACK_PROCESSOR, playbackModuleSource());
    const processorOptions: IPlaybackProcessorOptions = {
      sourceRate,
      reportMs: 50
    };
    const node = new AudioWorkletNode(context, PLAYBACK_PROCESSOR, {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [context.destination.channelCount >= 2 ? 2 : 1],
      processorOptions
    });
    const player = new ModelPlayer(node);
    node.port.onmessage = event =>
      player.receive(event.data as WorkletMessage, callbacks);
    node.connect(context.destination);
    return player;
  }

  /** Total model audio played in this session, in ms (at the 24 kHz source rate). */
  get playedMs(): number {
    return this._playedMs;
  }

  /** True while model audio is queued or sounding (for half-duplex). */
  get speaking(): boolean {
    return this._state !== 'idle';
  }

  /** Queue a chunk of model PCM16; the buffer is transferred to the worklet. */
  enqueue(pcm: ArrayBuffer): void {
    this._state = this._state === 'idle' ? 'buffering' : this._state;
    this.node.port.postMessage({ type: 'audio', pcm }, [pcm]);
  }

  endTurn(): void {
    this.node.port.postMessage({ type: 'end' });
  }

  interrupt(): void {
    this._state = 'idle';
    this.node.port.postMessage({ type: 'interrupt' });
  }

  stop(): void {
    this.node.port.postMessage({ type: 'stop' });
    this.node.port.onmessage = null;
    this.node.disconnect();
  }

  private receive(message: WorkletMessage, callbacks: IPlayerCallbacks): void {
    this._playedMs = message.playedMs;
    if (message.type === 'report') {
      this._state = message.state;
      callbacks.onReport?.(message);
    } else if (message.type === 'started') {
      this._state = 'playing';
      callbacks.onStarted?.(message.playedMs);
    } else {
      callbacks.onDrained?.(message.playedMs);
    }
  }
}
