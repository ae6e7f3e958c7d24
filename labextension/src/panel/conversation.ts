/**
 * One conversation at a time: the session over REST (one of its own, or one a notebook
 * created that the panel joins), the device stream, the audio devices, and the routing
 * of the server's events to the player and the transcript. It holds no UI text: the
 * panel model (panel-model.ts) turns its signals into what the panel shows.
 */
import { UUID } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import {
  AudioEngine,
  IAudioDevices,
  IEngineOptions,
  IVoicePlayer
} from '../audio/engine';
import { meanSquareToDb, pcm16Rms, rmsToDb } from '../audio/level-meter';
import {
  DeviceStatus,
  ClientControl,
  IConnectionChange,
  IErrorEvent,
  IEventStream,
  ILiveStreamOptions,
  LiveStream,
  ServerEvent
} from '../stream';
import { TranscriptModel } from '../transcript';

/** How often the device tells the server what the speaker really played. */
const PLAYBACK_REPORT_MS = 250;

/**
 * The backend whose upstream is a kernel: its device says how its microphone is
 * (`device_status`), which the server relays to the kernel.
 */
export const RELAY_BACKEND = 'relay';

/**
 * Where the conversation is: `live` when the stream is open and the server's upstream is
 * up (only then is the microphone sent); `upstream_reconnecting` when the server lost
 * Gemini and is reconnecting; `idle` when none runs.
 */
export type Phase =
  | 'idle'
  | 'starting'
  | 'connecting'
  | 'live'
  | 'reconnecting'
  | 'upstream_reconnecting';

export type StreamFactory = (options: ILiveStreamOptions) => IEventStream;
export type AudioFactory = () => IAudioDevices;

export interface IConversationOptions {
  /** The server's REST API; default: the real one. */
  api?: api.ISessionsApi;
  /** Opens the device stream; default: a LiveStream. */
  createStream?: StreamFactory;
  /** Opens the audio devices; default: an AudioEngine (needs a user gesture). */
  createAudio?: AudioFactory;
  /**
   * What a relay session's kernel is told when the microphone could not start (the
   * `device_status failed` reason); default: the error's message.
   */
  describeMicrophoneError?: (error: Error) => string;
}

export interface IConversationTarget {
  /** Join this existing session; otherwise a session is created. */
  join?: string;
  /**
   * Take up this session of our own again (the page was reloaded while it ran): it is
   * ours (Stop deletes it) and its transcript so far is loaded.
   */
  resume?: string;
  /** The new session's options (not used when joining). */
  create?: api.ICreateSession;
  /** The wire audio format, asked for once the audio devices exist. */
  audioFormat: () => Promise<api.IAudioFormat>;
}

/** A microphone frame, for the meter and the latency estimate. */
export interface IMicFrame {
  levelDb: number;
  /** It went to the server as the user's voice (not silence, not push-to-talk). */
  voiced: boolean;
}

/** The stream closed for good while the conversation ran. */
export interface IEnding {
  /** The server's refusal of a join, else the stream's reason; null when none. */
  reason: string | null;
  /** The code of the fatal `error` that ended it (e.g. `budget_exceeded`); null when none. */
  code: string | null;
}

/** What the session said before this panel took part (a join, or a page reload). */
export interface IHistory {
  entries: api.ITranscriptEntry[];
  /** The session as it was when joined (its `stats.usage` is the usage so far). */
  session: api.ISession;
}

export class Conversation implements IDisposable {
  readonly transcript = new TranscriptModel();
  /** The microphone sends silence (auto) or nothing (push-to-talk). */
  muted = false;
  /** The microphone sends silence while the model speaks. */
  halfDuplex = false;
  private readonly api: api.ISessionsApi;
  private readonly createStream: StreamFactory;
  private readonly createAudio: AudioFactory;
  private stream: IEventStream | null = null;
  private audio: IAudioDevices | null = null;
  private _sessionId: string | null = null;
  private _session: api.ISession | null = null;
  private _joined = false;
  private _manual: boolean | null = null;
  private _talking = false;
  private _phase: Phase = 'idle';
  private _microphoneError: Error | null = null;
  private fatalCode: string | null = null;
  /** The microphone runs (capture started, not torn down). */
  private micRunning = false;
  /** The session's upstream is a kernel (relay backend): device_status goes to it. */
  private relay = false;
  private readonly describeMicrophoneError: (error: Error) => string;
  private reportedMs = 0;
  private reportTimer: ReturnType<typeof setInterval> | null = null;
  private disposed = false;
  private readonly _phaseChanged = new Signal<this, Phase>(this);
  private readonly _ended = new Signal<this, IEnding>(this);
  private readonly _serverError = new Signal<this, IErrorEvent>(this);
  private readonly _micFrame = new Signal<this, IMicFrame>(this);
  private readonly _speechEnded = new Signal<this, void>(this);
  private readonly _voiceStarted = new Signal<this, void>(this);
  private readonly _voiceLevel = new Signal<this, number>(this);
  private readonly _event = new Signal<this, ServerEvent>(this);
  private readonly _history = new Signal<this, IHistory>(this);

  constructor(options: IConversationOptions = {}) {
    this.api = options.api ?? api.restApi;
    this.createStream = options.createStream ?? (o => new LiveStream(o));
    this.createAudio = options.createAudio ?? (() => new AudioEngine());
    this.describeMicrophoneError =
      options.describeMicrophoneError ?? (error => error.message);
  }

  /** The stream's state and the server's upstream state, as one phase. */
  get phaseChanged(): ISignal<this, Phase> {
    return this._phaseChanged;
  }

  /** The stream closed for good; the conversation is over (torn down). */
  get ended(): ISignal<this, IEnding> {
    return this._ended;
  }

  /** A non-fatal `error` event (a fatal one also ends the stream). */
  get serverError(): ISignal<this, IErrorEvent> {
    return this._serverError;
  }

  get micFrame(): ISignal<this, IMicFrame> {
    return this._micFrame;
  }

  /** Every server event of the stream, for what shows the conversation's state. */
  get event(): ISignal<this, ServerEvent> {
    return this._event;
  }

  /** The transcript of a joined (or resumed) session was loaded: its turns so far. */
  get historyLoaded(): ISignal<this, IHistory> {
    return this._history;
  }

  /** The user's turn ended: push-to-talk released, or text sent. */
  get speechEnded(): ISignal<this, void> {
    return this._speechEnded;
  }

  /** The first model audio of a response reached the speaker. */
  get voiceStarted(): ISignal<this, void> {
    return this._voiceStarted;
  }

  /** The level of the model's voice as played, in dB (~20 Hz). */
  get voiceLevel(): ISignal<this, number> {
    return this._voiceLevel;
  }

  get phase(): Phase {
    return this._phase;
  }

  get sessionId(): string | null {
    return this._sessionId;
  }

  /** The session's REST shape as created or joined; null when none. */
  get session(): api.ISession | null {
    return this._session;
  }

  /** The session is someone else's (a notebook's): leaving does not delete it. */
  get joined(): boolean {
    return this._joined;
  }

  /** The session's push-to-talk mode; null when no conversation runs. */
  get manual(): boolean | null {
    return this._manual;
  }

  /** Push-to-talk is held. */
  get talking(): boolean {
    return this._talking;
  }

  /** Why the microphone could not start (typing and listening still work). */
  get microphoneError(): string | null {
    return this._microphoneError?.message ?? null;
  }

  /** The error that kept the microphone from starting (a MicrophoneError, usually). */
  get microphoneFailure(): Error | null {
    return this._microphoneError;
  }

  /** Model audio really played by the speaker in this conversation, in ms. */
  get playedMs(): number {
    return this.player?.playedMs ?? 0;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Start the audio, then create (or join, or resume) the session and open the stream.
   * Call from a user gesture: the audio devices are created before the first await.
   * The audio starts first so that a page that cannot play or record (not a secure
   * context) creates nothing on the server; on any failure all is torn down, a session
   * created here is deleted, and the error is thrown.
   */
  async start(target: IConversationTarget): Promise<void> {
    this._phase = 'starting';
    let created: string | null = null;
    try {
      this.audio = this.createAudio();
      const format = await target.audioFormat();
      await this.startAudio(format);
      const session = target.join
        ? await this.joinSession(target.join)
        : target.resume
          ? await this.resumeSession(target.resume)
          : await this.createSession(target.create ?? {});
      created = target.join || target.resume ? null : session.id;
      this._sessionId = session.id;
      this._session = session;
      this.transcript.clear();
      if (target.join || target.resume) {
        await this.loadHistory(session);
      }
      this.openStream(session.id);
    } catch (error) {
      await this.teardown();
      if (created) {
        await this.api
          .deleteSession(created)
          .catch(reason => console.warn('gemini-live:', reason));
      }
      throw error;
    }
  }

  /** End the conversation; a session of our own is deleted, a joined one only left. */
  async leave(): Promise<void> {
    const id = this._sessionId;
    const joined = this._joined;
    this.reportPlayback();
    if (this.micRunning) {
      this.sendDeviceStatus('stopped', null);
    }
    await this.teardown();
    if (id && !joined) {
      await this.api
        .deleteSession(id)
        .catch(error => console.warn('gemini-live:', error));
    }
  }

  /** Push-to-talk pressed (true) or released; false when nothing changed. */
  setTalking(talking: boolean): boolean {
    const stream = this.stream;
    if (talking === this._talking || !stream || !this._manual) {
      return false;
    }
    this._talking = talking;
    if (talking) {
      this.stopVoice();
      stream.send({ type: 'activity_start' });
    } else {
      stream.send({ type: 'activity_end' });
      this._speechEnded.emit();
    }
    return true;
  }

  /**
   * Typed text: a row of no turn at once, placed by the server's `text_accepted` (or,
   * without a stream, by the REST route's answer). A REST failure is thrown.
   */
  async sendText(text: string): Promise<void> {
    const sessionId = this._sessionId;
    if (!sessionId) {
      return;
    }
    const id = UUID.uuid4();
    this.transcript.addTyped(id, text);
    this._speechEnded.emit();
    if (this.stream?.send({ type: 'text', text, id })) {
      return;
    }
    try {
      const { turn } = await this.api.sendText(sessionId, text);
      this.transcript.acceptTyped(id, turn);
    } catch (error) {
      this.transcript.refuseTyped(id);
      throw error;
    }
  }

  /** Send a control frame on the device stream; false when there is none open. */
  send(control: ClientControl): boolean {
    return this.stream?.send(control) ?? false;
  }

  dispose(): void {
    if (this.disposed) {
      return;
    }
    this.disposed = true;
    void this.leave();
    Signal.clearData(this);
  }

  private async createSession(
    request: api.ICreateSession
  ): Promise<api.ISession> {
    const session = await this.api.createSession(request);
    this._joined = false;
    this._manual = request.activity_detection === 'manual';
    this.relay = session.backend === RELAY_BACKEND;
    return session;
  }

  /** No POST: the session exists; its own turn-taking mode applies, not ours. */
  private async joinSession(id: string): Promise<api.ISession> {
    const session = await this.api.getSession(id);
    if (session.state === 'closed' || session.state === 'error') {
      throw new Error(`that session has ended (${session.state})`);
    }
    // Asking for the microphone first would be for nothing; the server checks again.
    if (session.device_connected) {
      throw new Error('another device is already talking in this session');
    }
    this._joined = true;
    this._manual = session.activity_detection === 'manual';
    this.relay = session.backend === RELAY_BACKEND;
    return session;
  }

  /** Our own session after a page reload: still up, its own turn-taking mode. */
  private async resumeSession(id: string): Promise<api.ISession> {
    const session = await this.api.getSession(id);
    if (session.state !== 'live' && session.state !== 'connecting') {
      throw new Error(`that session has ended (${session.state})`);
    }
    this._joined = false;
    this._manual = session.activity_detection === 'manual';
    return session;
  }

  /** What was said before the panel joined (or before the page was reloaded). */
  private async loadHistory(session: api.ISession): Promise<void> {
    const entries = await this.api
      .getTranscript(session.id)
      .catch(() => undefined);
    for (const entry of entries ?? []) {
      const { role, turn, text, interrupted } = entry;
      // An empty entry only closes a turn that ended without a word (it holds the reason).
      if (text) {
        this.transcript.update(role, turn, text, true);
      }
      if (interrupted) {
        this.transcript.interrupt(turn);
      }
    }
    this._history.emit({ entries: entries ?? [], session });
  }

  private async startAudio(format: api.IAudioFormat): Promise<void> {
    const audio = this.audio as IAudioDevices;
    const options: IEngineOptions = {
      inputRate: format.input_rate,
      frameMs: format.frame_ms,
      outputRate: format.output_rate,
      onFrame: frame => this.onMicFrame(frame),
      onStarted: () => this._voiceStarted.emit(),
      onDrained: () => this.reportPlayback(),
      onReport: report =>
        this._voiceLevel.emit(meanSquareToDb(report.meanSquare))
    };
    await audio.startPlayer(options);
    this._microphoneError = null;
    try {
      await audio.startCapture(options);
      this.micRunning = true;
    } catch (error) {
      this._microphoneError =
        error instanceof Error ? error : new Error(String(error));
    }
  }

  private openStream(id: string): void {
    const stream = this.createStream({
      sessionId: id,
      exclusive: this._joined
    });
    // Signals of a stream that was already replaced or stopped are ignored.
    const current = (sender: IEventStream) => sender === this.stream;
    stream.eventReceived.connect(
      (sender, event) => current(sender) && this.onEvent(event)
    );
    stream.audioReceived.connect(
      (sender, pcm) => current(sender) && this.player?.enqueue(pcm)
    );
    stream.connectionChanged.connect(
      (sender, change) => current(sender) && this.onConnection(change)
    );
    this.stream = stream;
    stream.connect();
    this.reportTimer = setInterval(
      () => this.reportPlayback(),
      PLAYBACK_REPORT_MS
    );
  }

  private onConnection(change: IConnectionChange): void {
    if (change.state === 'open') {
      this.reportDevice();
      this.setPhase('live');
    } else if (change.state === 'connecting') {
      this.setPhase('connecting');
    } else if (change.state === 'reconnecting') {
      this.setPhase('reconnecting');
    } else if (this._sessionId !== null) {
      void this.endWith(change);
    }
  }

  /** The stream closed for good; a refused join is explained by the server's answer. */
  private async endWith(change: IConnectionChange): Promise<void> {
    const id = this._sessionId;
    const refusal =
      change.refused && id
        ? await this.api.streamRefusal(id).catch(() => null)
        : null;
    if (this._sessionId !== id) {
      return; // left (or restarted) meanwhile
    }
    const code = this.fatalCode;
    await this.teardown();
    this._ended.emit({ reason: refusal ?? change.reason ?? null, code });
  }

  private onEvent(event: ServerEvent): void {
    this._event.emit(event);
    switch (event.type) {
      case 'state':
        return this.onSessionState(event.state);
      case 'transcript':
        return this.transcript.update(
          event.role,
          event.turn,
          event.text,
          event.final,
          event.interrupted
        );
      case 'text_accepted':
        return this.transcript.acceptTyped(event.id, event.turn);
      case 'interrupted':
        return this.onInterrupted(event.turn);
      case 'turn_complete':
        this.player?.endTurn();
        return this.transcript.settle(event.turn);
      case 'tool_call':
        // Kernel tools are the kernel observer's, notebook tools the notebook plugin's
        // (it follows `event`); the transcript shows them all.
        return this.transcript.addToolCall(
          event.turn,
          event.id,
          event.name,
          event.args
        );
      case 'tool_call_cancelled':
        return this.transcript.cancelToolCalls(event.ids);
      case 'error':
        return this.onServerError(event);
      default:
        return;
    }
  }

  private onSessionState(state: api.SessionState): void {
    if (state === 'reconnecting') {
      this.setPhase('upstream_reconnecting');
    } else if (state === 'live' && this.stream?.state === 'open') {
      this.setPhase('live');
    }
  }

  /** No audio of that turn follows: stop what plays, and say how much was heard. */
  private onInterrupted(turn: number): void {
    this.player?.interrupt();
    this.reportPlayback();
    this.transcript.interrupt(turn);
  }

  private onServerError(event: IErrorEvent): void {
    if (event.code === 'busy') {
      this.transcript.refuseOldestTyped();
    }
    if (event.fatal) {
      this.fatalCode = event.code;
    }
    this._serverError.emit(event);
  }

  private onMicFrame(frame: ArrayBuffer): void {
    const levelDb = rmsToDb(pcm16Rms(new Int16Array(frame)));
    const voiced = this.sendMic(frame);
    this._micFrame.emit({ levelDb, voiced });
  }

  /** Send a microphone frame as the mode wants; true when it went as the user's voice. */
  private sendMic(frame: ArrayBuffer): boolean {
    const stream = this.stream;
    if (!stream || this._phase !== 'live') {
      return false;
    }
    if (this._manual) {
      if (this._talking && !this.muted) {
        stream.sendAudio(frame);
      }
      return false;
    }
    const silenced = this.muted || (this.halfDuplex && !!this.player?.speaking);
    // Silence instead of nothing keeps the server's voice detection on a steady clock.
    stream.sendAudio(silenced ? new ArrayBuffer(frame.byteLength) : frame);
    return !silenced;
  }

  /** The user talks over the model (push-to-talk press): its voice stops here at once. */
  private stopVoice(): void {
    if (this.player?.speaking) {
      this.player.interrupt();
    }
  }

  /**
   * Tell a relay session's kernel how the microphone is, on every (re)connection: it
   * waits for `started`, and `failed` carries what the user can do about it.
   */
  private reportDevice(): void {
    const failure = this._microphoneError;
    if (failure) {
      this.sendDeviceStatus('failed', this.describeMicrophoneError(failure));
    } else if (this.micRunning) {
      this.sendDeviceStatus('started', null);
    }
  }

  private sendDeviceStatus(status: DeviceStatus, reason: string | null): void {
    if (this.relay) {
      this.stream?.send({ type: 'device_status', status, reason });
    }
  }

  private reportPlayback(): void {
    const played = this.player?.playedMs ?? 0;
    if (!this.stream || played <= this.reportedMs) {
      return;
    }
    const playedMs = Math.round(played);
    if (this.stream.send({ type: 'playback', played_ms: playedMs })) {
      this.reportedMs = played;
    }
  }

  private get player(): IVoicePlayer | null {
    return this.audio?.player ?? null;
  }

  private setPhase(phase: Phase): void {
    this._phase = phase;
    this._phaseChanged.emit(phase);
  }

  private async teardown(): Promise<void> {
    if (this.reportTimer !== null) {
      clearInterval(this.reportTimer);
      this.reportTimer = null;
    }
    const stream = this.stream;
    this.stream = null;
    stream?.dispose();
    const audio = this.audio;
    this.audio = null;
    this._sessionId = null;
    this._session = null;
    this._joined = false;
    this._manual = null;
    this._talking = false;
    this._phase = 'idle';
    this.fatalCode = null;
    this.micRunning = false;
    this.relay = false;
    this.reportedMs = 0;
    await audio?.close();
  }
}
