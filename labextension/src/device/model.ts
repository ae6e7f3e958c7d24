/**
 * The inline device's state and words: a `Conversation` that joins the kernel's relay
 * session (exclusively) with the panel's audio engine and stream, and tells the kernel
 * whether the microphone started (`device_status`, sent by the conversation). No DOM
 * here: the widget (widget.tsx) shows what this model says.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import { LevelMeter } from '../audio/level-meter';
import { MicrophoneError, TRANSLATION_DOMAIN } from '../audio/microphone';
import {
  Conversation,
  IConversationOptions,
  IEnding,
  IMicFrame,
  Phase
} from '../panel/conversation';
import { IDeviceData } from './data';

/** `data-state` of the device. */
export type DeviceState =
  'idle' | 'starting' | 'live' | 'failed' | 'stopped' | 'ended';

export interface IDeviceModelOptions extends Omit<
  IConversationOptions,
  'describeMicrophoneError'
> {
  /** The user's language; default English. */
  trans?: TranslationBundle;
  /** The clock of the level meter (ms); default performance.now. */
  now?: () => number;
}

const STARTABLE: ReadonlySet<DeviceState> = new Set([
  'idle',
  'failed',
  'stopped'
]);

export class DeviceModel implements IDisposable {
  readonly meter = new LevelMeter();
  readonly conversation: Conversation;
  state: DeviceState = 'idle';
  message: string;
  /** Kernel audio played by this browser since Start, in ms. */
  playedMs = 0;
  private readonly trans: TranslationBundle;
  private readonly api: api.ISessionsApi;
  private readonly now: () => number;
  private format: api.IAudioFormat | null = null;
  private starting: Promise<void> | null = null;
  private disposed = false;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _levelsChanged = new Signal<this, void>(this);

  constructor(
    readonly data: IDeviceData,
    options: IDeviceModelOptions = {}
  ) {
    this.trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
    this.api = options.api ?? api.restApi;
    this.now = options.now ?? (() => performance.now());
    this.conversation = new Conversation({
      ...options,
      describeMicrophoneError: error => this.describeMicrophone(error)
    });
    this.message = this.idleMessage();
    const c = this.conversation;
    c.phaseChanged.connect((_, phase) => this.onPhase(phase));
    c.ended.connect((_, ending) => this.onEnded(ending));
    c.micFrame.connect((_, frame) => this.onMicFrame(frame));
    c.voiceLevel.connect(() => this.onPlayed());
    c.serverError.connect((_, error) =>
      this.setState(this.state, `${error.message} (${error.code})`)
    );
  }

  /** State or message changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The meter or the played count moved (~50 Hz while live). */
  get levelsChanged(): ISignal<this, void> {
    return this._levelsChanged;
  }

  get canStart(): boolean {
    return STARTABLE.has(this.state);
  }

  get canStop(): boolean {
    return this.state === 'starting' || this.state === 'live';
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** 0..1 for the level meter's bar. */
  level(): number {
    return this.meter.fraction(this.now());
  }

  /**
   * Open the microphone and the speaker and join the session. Call from the click
   * handler: the audio context is created before the first await.
   */
  start(): Promise<void> {
    if (!this.canStart || this.disposed) {
      return Promise.resolve();
    }
    this.playedMs = 0;
    this.meter.reset();
    const started = this.conversation.start({
      join: this.data.session_id,
      audioFormat: () => this.audioFormat()
    });
    this.setState('starting', this.trans.__('Starting the microphone…'));
    this.starting = started
      .catch(error => {
        if (this.state === 'starting') {
          const why = (error as Error).message;
          this.setState('failed', this.trans.__('Could not start: %1', why));
        }
      })
      .finally(() => {
        this.starting = null;
      });
    return this.starting;
  }

  /** Release the microphone and leave the session (the kernel's: it is not deleted). */
  async stop(): Promise<void> {
    if (!this.canStop) {
      return;
    }
    await this.starting;
    await this.conversation.leave();
    this.meter.reset();
    if (this.state === 'starting' || this.state === 'live') {
      this.setState(
        'stopped',
        this.trans.__(
          'Stopped: the microphone is off. Press %1 to use it again.',
          this.trans.__('Start microphone')
        )
      );
    }
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    // Leaves the session: the microphone is released and the kernel told `stopped`.
    this.conversation.dispose();
    Signal.clearData(this);
  }

  /** The panel's words for a microphone that could not start, naming our button. */
  private describeMicrophone(error: Error): string {
    if (error instanceof MicrophoneError) {
      return error.describe({
        trans: this.trans,
        retry: this.trans.__('Start microphone')
      });
    }
    return this.trans.__('Could not open the microphone: %1', error.message);
  }

  private async audioFormat(): Promise<api.IAudioFormat> {
    if (!this.format) {
      this.format = (await this.api.getStatus()).audio;
    }
    return this.format;
  }

  private onPhase(phase: Phase): void {
    if (phase === 'live') {
      this.onLive();
    } else if (
      this.state === 'live' &&
      (phase === 'reconnecting' || phase === 'upstream_reconnecting')
    ) {
      this.setState('live', this.trans.__('Connection lost; reconnecting…'));
    }
  }

  /** The stream is open and the conversation told the kernel how the microphone is. */
  private onLive(): void {
    const failure = this.conversation.microphoneFailure;
    if (this.state === 'starting' && failure) {
      // `device_status failed` went with the same words; the session is the kernel's.
      this.setState('failed', this.describeMicrophone(failure));
      void this.conversation.leave();
      return;
    }
    if (this.state === 'starting' || this.state === 'live') {
      this.setState(
        'live',
        this.trans.__(
          'Live: the kernel hears this microphone and plays its audio here.'
        )
      );
    }
  }

  /** The stream closed for good: the conversation already released the microphone. */
  private onEnded(ending: IEnding): void {
    this.meter.reset();
    if (this.state === 'starting') {
      const why = ending.reason ?? this.trans.__('the connection was closed');
      this.setState('failed', this.trans.__('Could not start: %1', why));
    } else if (this.state === 'live') {
      this.setState(
        'ended',
        this.trans.__('The session ended; the microphone is off.')
      );
    }
  }

  private onMicFrame(frame: IMicFrame): void {
    this.meter.update(frame.levelDb, this.now());
    this._levelsChanged.emit();
  }

  private onPlayed(): void {
    const played = this.conversation.playedMs;
    if (played !== this.playedMs) {
      this.playedMs = played;
      this._levelsChanged.emit();
    }
  }

  private idleMessage(): string {
    return this.trans.__(
      'Press %1 to let the kernel hear this microphone and play its audio here.',
      this.trans.__('Start microphone')
    );
  }

  private setState(state: DeviceState, message: string): void {
    this.state = state;
    this.message = message;
    this._changed.emit();
  }
}
