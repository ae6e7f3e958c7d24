import * as api from '../../api';
import { LivePanelModel } from '../panel-model';
import { FakeDevices, loud, STATUS as status, tick } from './fakes';

let devices: FakeDevices;
let mockedApi: jest.Mocked<api.ISessionsApi>;
let player: FakeDevices['player'];

beforeEach(() => {
  devices = new FakeDevices();
  mockedApi = devices.server;
  player = devices.player;
});

function newModel(options: Partial<{ saveFile: jest.Mock }> = {}) {
  return new LivePanelModel({
    saveFile: jest.fn(async name => `dir/${name}`),
    storage: null,
    ...options,
    ...devices.options
  });
}

async function liveController(prefs = {}) {
  mockedApi.getStatus.mockResolvedValue(status);
  mockedApi.createSession.mockResolvedValue({ id: 'sid' } as api.ISession);
  mockedApi.deleteSession.mockResolvedValue(undefined);
  const controller = newModel();
  controller.setPreferences(prefs, true);
  await controller.start();
  devices.stream.open();
  return controller;
}

describe('LivePanelModel', () => {
  it('creates a session with the chosen options and goes live', async () => {
    const c = await liveController({ voice: 'Kore', pushToTalk: true });
    expect(mockedApi.createSession).toHaveBeenCalledWith({
      transcription: true,
      activity_detection: 'manual',
      voice: 'Kore'
    });
    expect(c.sessionId).toBe('sid');
    expect(c.state).toBe('live');
  });

  it('captures microphone frames of the length the server names', async () => {
    await liveController();
    expect(devices.engine.frameMs).toBe(40);
    expect(devices.engine.inputRate).toBe(16000);
    mockedApi.getStatus.mockResolvedValue({
      ...status,
      audio: { ...status.audio, frame_ms: 20 }
    });
    const other = newModel();
    await other.start();
    expect(devices.engine.frameMs).toBe(20);
  });

  it('stop ends in idle (not error) and deletes the session', async () => {
    const c = await liveController();
    expect(c.joined).toBe(false);
    expect(devices.stream.options.exclusive).toBe(false);
    await c.stop();
    expect(c.state).toBe('idle');
    expect(c.sessionId).toBeNull();
    expect(mockedApi.deleteSession).toHaveBeenCalledWith('sid');
  });

  it('reports a failed start with the server message', async () => {
    mockedApi.getStatus.mockResolvedValue(status);
    mockedApi.createSession.mockRejectedValue(new Error('too many sessions'));
    const c = newModel();
    await c.start();
    expect(c.state).toBe('error');
    expect(c.message).toMatch(/too many sessions/);
  });

  it('sends the mic, silence when muted, and silence while the model speaks in half duplex', async () => {
    const c = await liveController({ halfDuplex: true });
    devices.engine.onFrame(loud());
    c.toggleMute();
    devices.engine.onFrame(loud());
    c.toggleMute();
    player.speaking = true;
    devices.engine.onFrame(loud());
    const peaks = devices.stream.audio.map(f => Math.max(...new Int16Array(f)));
    expect(peaks).toEqual([8000, 0, 0]);
  });

  it('push-to-talk sends activity markers and audio only while held', async () => {
    const c = await liveController({ pushToTalk: true });
    devices.engine.onFrame(loud());
    c.setTalking(true);
    devices.engine.onFrame(loud());
    c.setTalking(false);
    devices.engine.onFrame(loud());
    expect(devices.stream.audio).toHaveLength(1);
    expect(devices.stream.sent).toEqual([
      { type: 'activity_start' },
      { type: 'activity_end' }
    ]);
  });

  it('routes server events to the player and the transcript', async () => {
    const c = await liveController();
    const s = devices.stream;
    const pcm = new ArrayBuffer(480);
    s.audioReceived.emit(pcm);
    s.emit({
      type: 'transcript',
      role: 'model',
      text: 'Hel',
      turn: 1,
      final: false,
      interrupted: false
    });
    s.emit({ type: 'interrupted', turn: 1 });
    s.emit({ type: 'tool_call', id: 't1', name: 'f', args: {}, turn: 1 });
    expect(player.enqueue).toHaveBeenCalledWith(pcm);
    expect(player.interrupt).toHaveBeenCalled();
    expect(c.transcript.items[0]).toMatchObject({
      interrupted: true,
      final: true
    });
    expect(c.transcript.items[1]).toMatchObject({
      role: 'tool',
      text: 'f({})'
    });
    // Tool calls are left to the kernel: the panel answers nothing.
    expect(s.sent.filter(m => m.type === 'tool_response')).toHaveLength(0);
  });

  it('tells the server what was played, and measures latency', async () => {
    const c = await liveController();
    devices.engine.onFrame(loud());
    player.playedMs = 480;
    devices.engine.onStarted!(0);
    devices.engine.onDrained!(480);
    expect(devices.stream.sent).toContainEqual({
      type: 'playback',
      played_ms: 480
    });
    expect(c.latency.last).not.toBeNull();
    await c.stop();
    expect(c.latency.last).toBeNull(); // the last turn's latency goes with Stop
  });

  it('saves the transcript as Markdown through the given writer', async () => {
    const c = await liveController();
    c.transcript.update('user', 1, 'hello', true);
    const path = await c.saveTranscript();
    expect(path).toMatch(/^dir\/gemini-live-.*\.md$/);
    expect(c.message).toMatch(/Transcript saved/);
  });

  it('a server-side close becomes an error state with the reason', async () => {
    const c = await liveController();
    devices.stream.connectionChanged.emit({
      state: 'closed',
      reason: 'model not found'
    });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(c.state).toBe('error');
    expect(c.message).toBe('model not found');
  });
});

function notebookSession(overrides: Partial<api.ISession> = {}): api.ISession {
  return {
    id: '3f2a9c1e-0000-4000-8000-000000000000',
    backend: 'echo',
    model: 'm1',
    voice: 'Puck',
    activity_detection: 'auto',
    transcription: true,
    record: false,
    notebook: false,
    state: 'live',
    created: '2024-05-01T14:02:00',
    clients: 1,
    device_connected: false,
    turn: 1,
    error: null,
    stats: {} as api.ISessionStats,
    ...overrides
  };
}

const NB = notebookSession().id;

async function joinedController(
  session = notebookSession(),
  start: (c: LivePanelModel) => Promise<void> = c => c.start()
) {
  mockedApi.getStatus.mockResolvedValue(status);
  mockedApi.getSession.mockResolvedValue(session);
  mockedApi.listSessions.mockResolvedValue([session]);
  const controller = newModel();
  await controller.refreshSessions();
  controller.chooseSession(session.id);
  await start(controller);
  devices.stream.open();
  return controller;
}

describe('LivePanelModel joining a session', () => {
  beforeEach(() => mockedApi.getTranscript.mockResolvedValue([]));

  it('lists only live or connecting sessions without a device', async () => {
    mockedApi.listSessions.mockResolvedValue([
      notebookSession({ id: 'live-free' }),
      notebookSession({ id: 'connecting-free', state: 'connecting' }),
      notebookSession({ id: 'live-taken', device_connected: true }),
      notebookSession({ id: 'reconnecting', state: 'reconnecting' }),
      notebookSession({ id: 'closed', state: 'closed' }),
      notebookSession({ id: 'error', state: 'error' })
    ]);
    const c = newModel();
    await c.refreshSessions();
    expect(c.joinable.items.map(s => s.id)).toEqual([
      'live-free',
      'connecting-free'
    ]);
  });

  it('hints at a single waiting session but never joins it on its own', async () => {
    mockedApi.listSessions.mockResolvedValue([notebookSession()]);
    const c = newModel();
    await c.refreshSessions();
    expect(c.showJoinHint).toBe(true);
    expect(c.sessionChoice).toBeNull();
    c.chooseSession('');
    expect(c.showJoinHint).toBe(false);
  });

  it('joins without a POST and connects the device exclusively', async () => {
    const c = await joinedController();
    expect(mockedApi.createSession).not.toHaveBeenCalled();
    expect(devices.stream.options).toEqual({
      sessionId: NB,
      exclusive: true
    });
    expect(c.sessionId).toBe(NB);
    expect(c.joined).toBe(true);
    expect(c.state).toBe('live');
    expect(c.message).toMatch(/notebook's session/);
  });

  it('shows what was said before the panel joined', async () => {
    mockedApi.getTranscript.mockResolvedValue([
      { role: 'user', text: 'hi', turn: 1 } as api.ITranscriptEntry,
      { role: 'model', text: 'hello', turn: 1 } as api.ITranscriptEntry
    ]);
    const c = await joinedController();
    expect(c.transcript.items.map(r => [r.role, r.text])).toEqual([
      ['user', 'hi'],
      ['model', 'hello']
    ]);
  });

  it("follows a manual session's push-to-talk, whatever the preference", async () => {
    const c = await joinedController(
      notebookSession({ activity_detection: 'manual' })
    );
    expect(c.prefs.pushToTalk).toBe(false);
    expect(c.pushToTalk).toBe(true);
    expect(c.message).toMatch(/push-to-talk/);
    c.setTalking(true);
    expect(devices.stream.sent).toEqual([{ type: 'activity_start' }]);
    await c.stop();
    expect(c.pushToTalk).toBe(false);
  });

  it('stop on a joined session leaves it running (no DELETE)', async () => {
    const c = await joinedController();
    await c.stop();
    expect(mockedApi.deleteSession).not.toHaveBeenCalled();
    expect(c.state).toBe('idle');
    expect(c.message).toBe("Left the notebook's session");
    expect(c.joined).toBe(false);
    expect(c.sessionId).toBeNull();
  });

  it('start({ sessionId }) joins that session directly (the command argument)', async () => {
    await joinedController(notebookSession({ id: 'from-command' }), c =>
      c.start({ sessionId: 'from-command' })
    );
    expect(mockedApi.getSession).toHaveBeenCalledWith('from-command');
    expect(mockedApi.createSession).not.toHaveBeenCalled();
    expect(devices.stream.options.sessionId).toBe('from-command');
  });

  it('shows the server message when the exclusive connection is refused (409)', async () => {
    mockedApi.getStatus.mockResolvedValue(status);
    mockedApi.getSession.mockResolvedValue(notebookSession());
    mockedApi.streamRefusal.mockResolvedValue(
      'another device is connected to this session'
    );
    const c = newModel();
    await c.start({ sessionId: NB });
    devices.stream.connectionChanged.emit({
      state: 'closed',
      reason: 'the server refused the connection (code 1006)',
      refused: true
    });
    await tick();
    await tick();
    expect(mockedApi.streamRefusal).toHaveBeenCalledWith(NB);
    expect(c.state).toBe('error');
    expect(c.message).toBe('another device is connected to this session');
  });

  it('refuses early, before the microphone, when a device already holds it', async () => {
    mockedApi.getStatus.mockResolvedValue(status);
    mockedApi.getSession.mockResolvedValue(
      notebookSession({ device_connected: true })
    );
    const c = newModel();
    await c.start({ sessionId: NB });
    expect(c.state).toBe('error');
    expect(c.message).toMatch(/Could not join: another device/);
  });

  it('polls only while visible and idle', async () => {
    jest.useFakeTimers();
    try {
      mockedApi.listSessions.mockResolvedValue([]);
      const c = newModel();
      c.setVisible(true);
      expect(mockedApi.listSessions).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(5000);
      expect(mockedApi.listSessions).toHaveBeenCalledTimes(2);
      c.state = 'live';
      c.setVisible(true);
      jest.advanceTimersByTime(20000);
      expect(mockedApi.listSessions).toHaveBeenCalledTimes(2);
      c.state = 'idle';
      c.setVisible(false);
      jest.advanceTimersByTime(20000);
      expect(mockedApi.listSessions).toHaveBeenCalledTimes(2);
      c.joinable.dispose();
    } finally {
      jest.useRealTimers();
    }
  });
});
