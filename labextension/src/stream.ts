/**
 * The device websocket of a session (`gemini-live/api/sessions/{id}/stream`): model
 * audio and events in, microphone frames and controls out, with reconnection inside
 * the server's grace period after a drop.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { API_PATH, ISession, SessionState } from './api';

/**
 * The server's JSON events, field for field as `jupyter_gemini_live/protocol.py` builds
 * them (src/__tests__/protocol.spec.ts checks them against its generated schema). Events
 * of a turn carry the server's `turn`: the panel never works one out itself.
 */
export interface IReadyEvent {
  type: 'ready';
  session: ISession;
  mode: 'device' | 'observe' | 'source';
}

export interface IStateEvent {
  type: 'state';
  state: SessionState;
}

/** The whole text of `role` in `turn` so far (not a delta). */
export interface ITranscriptEvent {
  type: 'transcript';
  role: 'user' | 'model';
  text: string;
  turn: number;
  final: boolean;
  interrupted: boolean;
}

/** A `text` frame went into `turn` (to its sender only; `id` as the frame had it). */
export interface ITextAcceptedEvent {
  type: 'text_accepted';
  id: string | null;
  turn: number;
}

/** No audio (nor model transcript) of `turn` follows. */
export interface IInterruptedEvent {
  type: 'interrupted';
  turn: number;
}

/** `reason`: why the turn ended abnormally (e.g. GENERATED_CONTENT_SAFETY), else null. */
export interface ITurnCompleteEvent {
  type: 'turn_complete';
  turn: number;
  reason: string | null;
}

/** All of the model's audio of `turn` has arrived (playback may still go on). */
export interface IGenerationCompleteEvent {
  type: 'generation_complete';
  turn: number;
}

/** The model works in the background (`active`) or is done (extended thinking). */
export interface IThinkingEvent {
  type: 'thinking';
  turn: number;
  active: boolean;
}

/** The service heard the user's voice start or end. */
export interface IVoiceActivityEvent {
  type: 'voice_activity';
  turn: number;
  activity: 'start' | 'end';
}

/** A web source of a grounded reply (an http(s) link). */
export interface IGroundingSource {
  title: string;
  uri: string;
}

/** Google Search sources of the model's reply in `turn`. */
export interface IGroundingEvent {
  type: 'grounding';
  turn: number;
  sources: IGroundingSource[];
}

export interface IToolCallEvent {
  type: 'tool_call';
  id: string;
  name: string;
  args: Record<string, unknown>;
  turn: number;
}

export interface IToolCallCancelledEvent {
  type: 'tool_call_cancelled';
  ids: string[];
  turn: number;
}

export interface IModalityTokens {
  text: number;
  audio: number;
  image: number;
}

/** Tokens by kind and modality. */
export interface ITokenCounts {
  prompt: IModalityTokens;
  response: IModalityTokens;
  thinking: number;
  tool_use: number;
  total: number;
}

/** Tokens and their estimated cost in USD (a turn's or a session's). */
export interface IUsageTotals {
  tokens: ITokenCounts;
  cost_usd: number;
}

/**
 * A usage report: `usage` as the service sent it (cumulative per connection), `delta`
 * what it adds, `turn_usage` the turn so far, `session_usage` the session's so far.
 */
export interface IUsageEvent {
  type: 'usage';
  usage: Record<string, unknown>;
  turn: number;
  delta: ITokenCounts;
  turn_usage: IUsageTotals;
  session_usage: IUsageTotals;
}

/** A fatal error is followed by `state: error` and the socket closing (4002). */
export interface IErrorEvent {
  type: 'error';
  code: string;
  message: string;
  fatal: boolean;
}

export interface IPongEvent {
  type: 'pong';
  t: unknown;
}

/** What a device says of its microphone (`device_status`). */
export type DeviceStatus = 'started' | 'failed' | 'stopped';

/**
 * To a relay session's source (the kernel): the device's `device_status`, relayed, or a
 * device socket that came or went (`connected`, `disconnected`).
 */
export interface IDeviceEvent {
  type: 'device';
  status: DeviceStatus | 'connected' | 'disconnected';
  reason: string | null;
}

/** To a relay session's source: what the device's speaker really played so far. */
export interface IPlaybackEvent {
  type: 'playback';
  played_ms: number;
}

export type ServerEvent =
  | IReadyEvent
  | IStateEvent
  | ITranscriptEvent
  | ITextAcceptedEvent
  | IInterruptedEvent
  | ITurnCompleteEvent
  | IGenerationCompleteEvent
  | IThinkingEvent
  | IVoiceActivityEvent
  | IGroundingEvent
  | IToolCallEvent
  | IToolCallCancelledEvent
  | IUsageEvent
  | IErrorEvent
  | IPongEvent
  | IDeviceEvent
  | IPlaybackEvent;

export type ClientControl =
  /** The device's microphone runs, could not start (`reason` says what to do) or stopped. */
  | { type: 'device_status'; status: DeviceStatus; reason: string | null }
  /** `id` (1..64 characters) comes back in `text_accepted`. */
  | { type: 'text'; text: string; id?: string }
  | { type: 'activity_start' }
  | { type: 'activity_end' }
  | { type: 'audio_stream_end' }
  | { type: 'playback'; played_ms: number }
  | { type: 'ping'; t: number }
  /**
   * The microphone runs, could not start (`reason` says what to do) or was stopped by
   * the user; relayed to a relay session's source as `device`.
   */
  | { type: 'device_status'; status: DeviceStatus; reason: string | null }
  /** A camera or screen frame (base64). */
  | {
      type: 'image';
      mime_type: 'image/jpeg' | 'image/png' | 'image/webp';
      data: string;
    }
  | IToolResponse;

/** The answer to a `tool_call`; the first answer wins, the server refuses later ones. */
export interface IToolResponse {
  type: 'tool_response';
  id: string;
  name: string;
  response: Record<string, unknown>;
  /** How the model takes the answer, where the model supports it. */
  scheduling?: 'INTERRUPT' | 'WHEN_IDLE' | 'SILENT';
  /** What the tool saw (at most 2, each at most 1 MiB decoded). */
  images?: {
    mime_type: 'image/png' | 'image/jpeg' | 'image/webp';
    data: string;
  }[];
}

/** `open` once `ready` arrived; `closed` is final (stopped, fatal error, retries spent). */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface IConnectionChange {
  state: ConnectionState;
  /** Why a connection closed for good, for the status line. */
  reason?: string;
  /**
   * The first, exclusive connection was refused before `ready` (the browser does not
   * say why; `api.streamRefusal` can ask the server).
   */
  refused?: boolean;
}

export interface ILiveStreamOptions {
  sessionId: string;
  settings?: ServerConnection.ISettings;
  /** Waits before each reconnection attempt; their sum stays inside the ~30 s grace. */
  backoffMs?: number[];
  /**
   * Join without taking over: the first connection asks for `exclusive=1`, so the
   * server refuses it (409) while another device holds the session.
   */
  exclusive?: boolean;
}

/** WebSocket.OPEN, without relying on a global WebSocket class. */
const OPEN = 1;

/**
 * Close codes after which retrying cannot help: a normal close, a policy refusal, and
 * the application range the server uses on purpose (e.g. another tab took over the
 * device; reconnecting would make the two tabs fight).
 */
function isFinalClose(code: number): boolean {
  return code === 1000 || code === 1008 || (code >= 4000 && code < 5000);
}
/** Do not queue more than ~2 s of audio in a stalled socket; drop frames instead. */
const MAX_BUFFERED_BYTES = 64 * 1024;

/** What a conversation needs of its device stream (LiveStream, or a test's fake). */
export interface IEventStream extends IDisposable {
  readonly state: ConnectionState;
  readonly eventReceived: ISignal<IEventStream, ServerEvent>;
  /** Model speech: PCM s16le mono at the status' output rate. */
  readonly audioReceived: ISignal<IEventStream, ArrayBuffer>;
  readonly connectionChanged: ISignal<IEventStream, IConnectionChange>;
  connect(): void;
  /** Send one microphone frame; false when it could not go (closed or congested). */
  sendAudio(frame: ArrayBuffer): boolean;
  send(control: ClientControl): boolean;
}

export class LiveStream implements IEventStream {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private fatal: string | null = null;
  /** Got `ready` once: the device slot is ours, later connections are reconnections. */
  private joined = false;
  private _state: ConnectionState = 'closed';
  private readonly backoff: number[];
  private readonly _eventReceived = new Signal<this, ServerEvent>(this);
  private readonly _audioReceived = new Signal<this, ArrayBuffer>(this);
  private readonly _connectionChanged = new Signal<this, IConnectionChange>(
    this
  );

  constructor(private readonly options: ILiveStreamOptions) {
    this.backoff = options.backoffMs ?? [500, 1000, 2000, 4000, 8000];
  }

  get eventReceived(): ISignal<this, ServerEvent> {
    return this._eventReceived;
  }

  /** Model speech: PCM s16le mono at the status' output rate. */
  get audioReceived(): ISignal<this, ArrayBuffer> {
    return this._audioReceived;
  }

  get connectionChanged(): ISignal<this, IConnectionChange> {
    return this._connectionChanged;
  }

  get state(): ConnectionState {
    return this._state;
  }

  get isDisposed(): boolean {
    return this.stopped;
  }

  /** The websocket URL, built at connect time from the current settings. */
  url(): string {
    const settings = this.options.settings ?? ServerConnection.makeSettings();
    const url = URLExt.join(
      settings.wsUrl,
      API_PATH,
      'sessions',
      encodeURIComponent(this.options.sessionId),
      'stream'
    );
    const query: string[] = [];
    // Reconnections take our own slot back: the server may not have noticed the
    // dropped socket yet, and an exclusive request would be refused by our own ghost.
    if (this.options.exclusive && !this.joined) {
      query.push('exclusive=1');
    }
    if (settings.appendToken && settings.token !== '') {
      query.push(`token=${encodeURIComponent(settings.token)}`);
    }
    return query.length ? `${url}?${query.join('&')}` : url;
  }

  connect(): void {
    if (this.stopped) {
      throw new Error('this stream was closed');
    }
    this.open('connecting');
  }

  /** Send one microphone frame; false when it could not go (closed or congested). */
  sendAudio(frame: ArrayBuffer): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN || this._state !== 'open') {
      return false;
    }
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      return false;
    }
    socket.send(frame);
    return true;
  }

  send(control: ClientControl): boolean {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) {
      return false;
    }
    socket.send(JSON.stringify(control));
    return true;
  }

  /** Close for good (the session itself is deleted through the REST API). */
  close(): void {
    this.stopped = true;
    this.clearRetry();
    this.detach()?.close(1000, 'closed by the user');
    this.setState('closed');
  }

  dispose(): void {
    if (!this.stopped) {
      this.close();
    }
    Signal.clearData(this);
  }

  private open(state: ConnectionState): void {
    this.setState(state);
    const settings = this.options.settings ?? ServerConnection.makeSettings();
    const socket = new settings.WebSocket(this.url());
    socket.binaryType = 'arraybuffer';
    socket.onmessage = event => this.onMessage(event);
    socket.onclose = event => this.onClose(socket, event);
    this.socket = socket;
  }

  private onMessage(event: MessageEvent): void {
    if (typeof event.data !== 'string') {
      this._audioReceived.emit(event.data as ArrayBuffer);
      return;
    }
    let message: ServerEvent;
    try {
      message = JSON.parse(event.data) as ServerEvent;
    } catch {
      console.warn('gemini-live: ignoring a frame that is not JSON');
      return;
    }
    if (message.type === 'ready') {
      this.attempt = 0;
      this.joined = true;
      this.setState('open');
    } else if (message.type === 'error' && message.fatal) {
      this.fatal = message.message;
    }
    this._eventReceived.emit(message);
  }

  private onClose(socket: WebSocket, event: CloseEvent): void {
    if (socket !== this.socket || this.stopped) {
      return;
    }
    this.socket = null;
    const reason = this.fatal ?? closeReason(event);
    if (this.options.exclusive && !this.joined && !this.fatal) {
      // Retrying a refused join would only be refused again.
      this.finish(`the server refused the connection (${reason})`, true);
      return;
    }
    if (this.fatal || isFinalClose(event.code)) {
      this.finish(reason);
      return;
    }
    if (this.attempt >= this.backoff.length) {
      this.finish(
        `lost the connection to the server (${reason}); press Start to begin again`
      );
      return;
    }
    const wait = this.backoff[this.attempt++];
    this.setState('reconnecting');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) {
        this.open('reconnecting');
      }
    }, wait);
  }

  private finish(reason: string, refused?: boolean): void {
    this.stopped = true;
    this.setState('closed', reason, refused);
  }

  private detach(): WebSocket | null {
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onmessage = null;
      socket.onclose = null;
    }
    return socket;
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private setState(
    state: ConnectionState,
    reason?: string,
    refused?: boolean
  ): void {
    if (state === this._state && reason === undefined) {
      return;
    }
    this._state = state;
    this._connectionChanged.emit(
      refused ? { state, reason, refused } : { state, reason }
    );
  }
}

function closeReason(event: CloseEvent): string {
  return event.reason
    ? `${event.reason} (code ${event.code})`
    : `code ${event.code}`;
}
