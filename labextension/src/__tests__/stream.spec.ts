import { ServerConnection } from '@jupyterlab/services';

import { LiveStream, ServerEvent } from '../stream';

/** A WebSocket double: records what is sent, lets the test play the server. */
class MockSocket {
  static instances: MockSocket[] = [];
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  sent: unknown[] = [];
  closedWith: number | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string) {
    MockSocket.instances.push(this);
  }

  send(data: unknown): void {
    this.sent.push(data);
  }

  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  serverOpen(): void {
    this.readyState = 1;
  }

  serverSend(data: unknown): void {
    this.onmessage?.({
      data:
        typeof data === 'object' && !(data instanceof ArrayBuffer)
          ? JSON.stringify(data)
          : data
    });
  }

  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

function settings(overrides: Partial<ServerConnection.ISettings> = {}) {
  return ServerConnection.makeSettings({
    baseUrl: 'http://example.org/user/ada/',
    wsUrl: 'ws://example.org/user/ada/',
    token: 'secret',
    appendToken: true,
    WebSocket: MockSocket as unknown as typeof WebSocket,
    ...overrides
  });
}

const session = {
  id: 'abc',
  backend: 'echo',
  model: 'm',
  voice: 'Puck',
  state: 'live' as const,
  created: 0,
  clients: 1,
  error: null,
  stats: {
    audio_in_ms: 0,
    audio_out_ms: 0,
    played_ms: 0,
    turns: 0,
    interruptions: 0,
    reconnects: 0,
    dropped_in_ms: 0
  }
};

function openStream(
  options: Partial<ServerConnection.ISettings> = {},
  exclusive = false
) {
  const stream = new LiveStream({
    sessionId: 'abc',
    settings: settings(options),
    backoffMs: [10, 20],
    exclusive
  });
  const events: ServerEvent[] = [];
  const audio: ArrayBuffer[] = [];
  const states: string[] = [];
  stream.eventReceived.connect((_, e) => events.push(e));
  stream.audioReceived.connect((_, a) => audio.push(a));
  stream.connectionChanged.connect((_, c) => states.push(c.state));
  stream.connect();
  const socket = MockSocket.instances[MockSocket.instances.length - 1];
  return { stream, socket, events, audio, states };
}

beforeEach(() => {
  MockSocket.instances = [];
  jest.useRealTimers();
});

describe('LiveStream', () => {
  it('builds the URL under the base URL and appends the token when asked', () => {
    const { socket } = openStream();
    expect(socket.url).toBe(
      'ws://example.org/user/ada/gemini-live/api/sessions/abc/stream?token=secret'
    );
    expect(socket.binaryType).toBe('arraybuffer');
  });

  it('does not append the token when appendToken is false or the token empty', () => {
    expect(openStream({ appendToken: false }).socket.url).not.toContain(
      'token'
    );
    expect(openStream({ token: '' }).socket.url).not.toContain('token');
  });

  it('is open only after ready, and dispatches events and binary audio', () => {
    const { stream, socket, events, audio, states } = openStream();
    socket.serverOpen();
    expect(stream.sendAudio(new ArrayBuffer(640))).toBe(false);
    socket.serverSend({ type: 'ready', session });
    expect(states).toEqual(['connecting', 'open']);
    const pcm = new Int16Array([1, 2, 3]).buffer;
    socket.serverSend(pcm);
    socket.serverSend({
      type: 'transcript',
      role: 'model',
      text: 'Hi',
      turn: 1,
      final: false
    });
    expect(audio).toEqual([pcm]);
    expect(events.map(e => e.type)).toEqual(['ready', 'transcript']);
    expect(stream.sendAudio(new ArrayBuffer(640))).toBe(true);
    expect(socket.sent[0]).toBeInstanceOf(ArrayBuffer);
  });

  it('sends controls as JSON', () => {
    const { stream, socket } = openStream();
    socket.serverOpen();
    stream.send({ type: 'playback', played_ms: 1234 });
    stream.send({ type: 'activity_start' });
    expect(socket.sent.map(s => JSON.parse(s as string))).toEqual([
      { type: 'playback', played_ms: 1234 },
      { type: 'activity_start' }
    ]);
  });

  it('drops audio frames instead of queueing in a congested socket', () => {
    const { stream, socket } = openStream();
    socket.serverOpen();
    socket.serverSend({ type: 'ready', session });
    socket.bufferedAmount = 1 << 20;
    expect(stream.sendAudio(new ArrayBuffer(640))).toBe(false);
    expect(socket.sent).toHaveLength(0);
  });

  it('ignores non-JSON text frames', () => {
    const { socket, events } = openStream();
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    socket.serverSend('not json');
    expect(events).toHaveLength(0);
    warn.mockRestore();
  });

  it('reconnects after a drop, with backoff, and resets after ready', async () => {
    jest.useFakeTimers();
    const { socket, states } = openStream();
    socket.serverOpen();
    socket.serverSend({ type: 'ready', session });
    socket.serverClose(1006);
    expect(states[states.length - 1]).toBe('reconnecting');
    expect(MockSocket.instances).toHaveLength(1);
    jest.advanceTimersByTime(10);
    expect(MockSocket.instances).toHaveLength(2);
    const second = MockSocket.instances[1];
    second.serverOpen();
    second.serverSend({ type: 'ready', session });
    expect(states[states.length - 1]).toBe('open');
    // The attempt counter was reset by ready: the first wait applies again.
    second.serverClose(1011);
    jest.advanceTimersByTime(10);
    expect(MockSocket.instances).toHaveLength(3);
  });

  it('gives up after its retries, with a reason', () => {
    jest.useFakeTimers();
    const { stream, socket } = openStream();
    const reasons: (string | undefined)[] = [];
    stream.connectionChanged.connect((_, c) => reasons.push(c.reason));
    socket.serverClose(1006);
    jest.advanceTimersByTime(10);
    MockSocket.instances[1].serverClose(1006);
    jest.advanceTimersByTime(20);
    MockSocket.instances[2].serverClose(1006);
    jest.advanceTimersByTime(1000);
    expect(MockSocket.instances).toHaveLength(3);
    expect(stream.state).toBe('closed');
    expect(reasons[reasons.length - 1]).toMatch(/lost the connection/);
  });

  it('does not reconnect after a fatal error or a deliberate close code', () => {
    jest.useFakeTimers();
    const { stream, socket } = openStream();
    const reasons: (string | undefined)[] = [];
    stream.connectionChanged.connect((_, c) => reasons.push(c.reason));
    socket.serverSend({
      type: 'error',
      code: 'upstream',
      message: 'model not found',
      fatal: true
    });
    socket.serverClose(1011);
    jest.advanceTimersByTime(1000);
    expect(MockSocket.instances).toHaveLength(1);
    expect(reasons[reasons.length - 1]).toBe('model not found');

    const other = openStream();
    other.socket.serverClose(4000, 'replaced by another device');
    jest.advanceTimersByTime(1000);
    expect(other.stream.state).toBe('closed');
  });

  it('close() stops for good and closes the socket normally', () => {
    jest.useFakeTimers();
    const { stream, socket } = openStream();
    stream.close();
    expect(socket.closedWith).toBe(1000);
    expect(stream.state).toBe('closed');
    jest.advanceTimersByTime(1000);
    expect(MockSocket.instances).toHaveLength(1);
    expect(() => stream.connect()).toThrow(/closed/);
  });

  it('an exclusive join asks for exclusive=1 on its first connection only', () => {
    jest.useFakeTimers();
    const { socket } = openStream({}, true);
    expect(socket.url).toBe(
      'ws://example.org/user/ada/gemini-live/api/sessions/abc/stream?exclusive=1&token=secret'
    );
    socket.serverOpen();
    socket.serverSend({ type: 'ready', session });
    socket.serverClose(1006);
    jest.advanceTimersByTime(10);
    // Reconnecting takes back our own slot, which the server may still hold.
    expect(MockSocket.instances[1].url).not.toContain('exclusive');
  });

  it('a refused exclusive join is final and says it was refused', () => {
    jest.useFakeTimers();
    const { stream, socket } = openStream({}, true);
    const changes: { state: string; refused?: boolean }[] = [];
    stream.connectionChanged.connect((_, c) => changes.push(c));
    socket.serverClose(1006);
    jest.advanceTimersByTime(1000);
    expect(MockSocket.instances).toHaveLength(1);
    expect(stream.state).toBe('closed');
    expect(changes[changes.length - 1]).toMatchObject({
      state: 'closed',
      refused: true
    });
  });
});
