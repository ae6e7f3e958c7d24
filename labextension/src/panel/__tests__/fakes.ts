/**
 * Test doubles injected into the panel's conversation: the device stream, the audio
 * devices and the REST API, so no module is mocked.
 */
import { Signal } from '@lumino/signaling';

import { ISessionsApi, IStatus, ITranscriptEntry } from '../../api';
import {
  IAudioDevices,
  IEngineOptions,
  IVoicePlayer
} from '../../audio/engine';
import { LooseEvent } from '../../state/conversation-state';
import {
  ClientControl,
  ConnectionState,
  IConnectionChange,
  IEventStream,
  ILiveStreamOptions,
  ServerEvent
} from '../../stream';
import { IConversationOptions } from '../conversation';

/** The device websocket, played by the test. */
export class FakeStream implements IEventStream {
  state: ConnectionState = 'connecting';
  sent: ClientControl[] = [];
  audio: ArrayBuffer[] = [];
  isDisposed = false;
  readonly eventReceived: Signal<IEventStream, ServerEvent> = new Signal(this);
  readonly audioReceived: Signal<IEventStream, ArrayBuffer> = new Signal(this);
  readonly connectionChanged: Signal<IEventStream, IConnectionChange> =
    new Signal(this);
  constructor(readonly options: ILiveStreamOptions) {}
  connect(): void {
    this.connectionChanged.emit({ state: 'connecting' });
  }
  /** The server's `ready` arrived. */
  open(): void {
    this.state = 'open';
    this.connectionChanged.emit({ state: 'open' });
  }
  emit(event: ServerEvent): void {
    this.eventReceived.emit(event);
  }
  send(control: ClientControl): boolean {
    this.sent.push(control);
    return this.state === 'open';
  }
  sendAudio(frame: ArrayBuffer): boolean {
    this.audio.push(frame);
    return true;
  }
  /** The socket is down (reconnecting): frames cannot go. */
  drop(): void {
    this.state = 'reconnecting';
    this.connectionChanged.emit({ state: 'reconnecting' });
  }
  dispose(): void {
    this.isDisposed = true;
    this.state = 'closed';
    this.connectionChanged.emit({ state: 'closed' });
  }
}

export class FakePlayer implements IVoicePlayer {
  speaking = false;
  playedMs = 0;
  enqueue = jest.fn();
  endTurn = jest.fn();
  interrupt = jest.fn();
}

export class FakeAudio implements IAudioDevices {
  player: FakePlayer | null = null;
  /** What the conversation asked the engine for: its callbacks drive the tests. */
  options: IEngineOptions | null = null;
  close = jest.fn(async () => undefined);
  /** What the microphone throws when it starts (denied, missing...); null: it runs. */
  captureError: Error | null = null;
  constructor(private readonly voice: FakePlayer) {}
  async startPlayer(options: IEngineOptions): Promise<void> {
    this.options = options;
    this.player = this.voice;
  }
  async startCapture(): Promise<void> {
    if (this.captureError) {
      throw this.captureError;
    }
  }
}

export const STATUS: IStatus = {
  version: '0.1.0',
  backends: {
    gemini: { available: false, reason: 'no API key' },
    echo: { available: true }
  },
  default_backend: 'echo',
  models: ['m1'],
  default_model: 'm1',
  voices: ['Puck'],
  default_voice: 'Puck',
  audio: {
    input_rate: 16000,
    frame_ms: 40,
    output_rate: 24000,
    format: 's16le',
    channels: 1
  }
};

/** A REST API whose every call is a jest.fn the test answers. */
export function fakeApi(): jest.Mocked<ISessionsApi> {
  const server = {
    getStatus: jest.fn(),
    listSessions: jest.fn(),
    createSession: jest.fn(),
    getSession: jest.fn(),
    deleteSession: jest.fn(),
    sendText: jest.fn(),
    getTranscript: jest.fn(),
    streamRefusal: jest.fn()
  } as jest.Mocked<ISessionsApi>;
  server.getStatus.mockResolvedValue(STATUS);
  server.listSessions.mockResolvedValue([]);
  server.deleteSession.mockResolvedValue(undefined);
  server.getTranscript.mockResolvedValue([]);
  server.streamRefusal.mockResolvedValue(null);
  return server;
}

/** The stream and audio factories, with what they made. */
export class FakeDevices {
  readonly streams: FakeStream[] = [];
  readonly player = new FakePlayer();
  readonly audio = new FakeAudio(this.player);
  readonly server = fakeApi();

  get stream(): FakeStream {
    return this.streams[this.streams.length - 1];
  }

  /** The engine's callbacks (a microphone frame, playback reports). */
  get engine(): IEngineOptions {
    return this.audio.options as IEngineOptions;
  }

  get options(): Required<
    Pick<IConversationOptions, 'api' | 'createStream' | 'createAudio'>
  > {
    return {
      api: this.server,
      createStream: options => {
        const stream = new FakeStream(options);
        this.streams.push(stream);
        return stream;
      },
      createAudio: () => this.audio
    };
  }
}

/** A 20 ms microphone frame at a speaking level. */
export const loud = (): ArrayBuffer => new Int16Array(320).fill(8000).buffer;

export const tick = (): Promise<void> =>
  new Promise(resolve => setTimeout(resolve, 0));

/**
 * Resolves once `check` holds, polled every 10 ms: a render happens when the machine gets
 * to it, so a test waits for what it needs rather than for a fixed time. Rejects after
 * `ms` naming `what` (before jest's own 5 s limit on a test, which would name nothing).
 */
export async function until(
  check: () => boolean,
  what: string,
  ms = 3000
): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 10));
  }
}

/** sessionStorage for one test. */
export class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

/** A stream event of any `type`, with the given fields. */
export const ev = (
  type: string,
  fields: Record<string, unknown> = {}
): LooseEvent => ({
  type,
  ...fields
});

/** A settled transcript entry of turn 1 (`GET transcript`), with the given fields. */
export function transcriptEntry(
  fields: Partial<ITranscriptEntry>
): ITranscriptEntry {
  return {
    role: 'user',
    text: '',
    turn: 1,
    start: 0,
    end: 1,
    final: true,
    interrupted: false,
    usage: null,
    reason: null,
    sources: [],
    ...fields
  };
}
