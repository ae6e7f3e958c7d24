/**
 * What a new user meets first (issue 12): a Start that fails leaves nothing on the
 * server, the microphone's problems are explained before Start, a reload rejoins the
 * tab's own session, the transcript goes into a notebook.
 */
import * as api from '../../api';
import { insecureContextError } from '../../audio/microphone';
import { LivePanelModel, SESSION_KEY } from '../panel-model';
import { IPreflightEnvironment, preflight } from '../preflight';
import { DEFAULT_TRANS } from '../status-text';
import {
  FakeDevices,
  MemoryStorage,
  STATUS,
  tick,
  transcriptEntry
} from './fakes';

let devices: FakeDevices;
let server: jest.Mocked<api.ISessionsApi>;
let storage: MemoryStorage;

beforeEach(() => {
  devices = new FakeDevices();
  server = devices.server;
  storage = new MemoryStorage();
  server.createSession.mockImplementation(
    async () => ({ id: 'sid', state: 'live' }) as api.ISession
  );
});

function newModel(
  extra: Partial<ConstructorParameters<typeof LivePanelModel>[0]> = {}
) {
  return new LivePanelModel({
    saveFile: jest.fn(),
    storage,
    ...devices.options,
    ...extra
  });
}

describe('a Start that fails', () => {
  it('on an insecure page says so, four times, and creates no session', async () => {
    devices.audio.startPlayer = jest.fn(async () => {
      throw insecureContextError();
    });
    const c = newModel();
    for (let press = 0; press < 4; press++) {
      await c.start();
      expect(c.state).toBe('error');
      expect(c.message).toMatch(
        /^Could not start: This page is not a secure context/
      );
      expect(c.message).toMatch(/https/);
      expect(c.message).toMatch(/ssh -L 8888:localhost:8888/);
    }
    expect(server.createSession).not.toHaveBeenCalled();
    expect(storage.getItem(SESSION_KEY)).toBeNull();
    expect(devices.audio.close).toHaveBeenCalledTimes(4);
  });

  it('after the session was created deletes it again', async () => {
    const c = newModel({
      createStream: () => {
        throw new Error('no stream');
      }
    });
    await c.start();
    expect(c.state).toBe('error');
    expect(server.createSession).toHaveBeenCalledTimes(1);
    expect(server.deleteSession).toHaveBeenCalledWith('sid');
  });
});

describe('the status line', () => {
  it('says the microphone is unavailable, in a warning, not "Live"', async () => {
    devices.audio.startCapture = jest.fn(async () => {
      throw new Error('Permission denied');
    });
    const c = newModel();
    await c.start();
    devices.stream.open();
    expect(c.state).toBe('live');
    expect(c.micWarning).toBe(true);
    expect(c.message).toBe(
      'Microphone unavailable: Permission denied Typing still works.'
    );
    expect(c.message).not.toMatch(/^Live/);
  });

  it('does not repeat the echo banner', async () => {
    const c = newModel();
    await c.refreshStatus();
    expect(c.message).toBe('Ready. Press Start to talk.');
  });
});

describe('voice-to-voice latency', () => {
  it('measures spoken turns only and keeps their median', async () => {
    const c = newModel();
    await c.start();
    devices.stream.open();
    const speak = () =>
      devices.engine.onFrame(new Int16Array(320).fill(8000).buffer);
    speak();
    devices.engine.onStarted!(0);
    expect(c.latency.count).toBe(1);
    // typed text: the next reply is not measured
    speak();
    await c.sendText('hello');
    devices.engine.onStarted!(0);
    expect(c.latency.count).toBe(1);
    expect(c.latency.median).not.toBeNull();
    await c.stop();
    expect(c.latency.median).toBeNull();
  });
});

describe('after a page reload', () => {
  it("rejoins the tab's own session with its transcript, and never offers it", async () => {
    const first = newModel();
    await first.start();
    devices.stream.open();
    expect(storage.getItem(SESSION_KEY)).toBe('sid');

    // the page reloads: a new model, the same tab storage
    const session = {
      id: 'sid',
      state: 'live',
      device_connected: false,
      activity_detection: 'auto'
    } as api.ISession;
    server.getSession.mockResolvedValue(session);
    server.listSessions.mockResolvedValue([session]);
    server.getTranscript.mockResolvedValue([
      transcriptEntry({ text: 'hello' })
    ]);
    const second = newModel();
    await second.refreshSessions();
    expect(second.joinable.items).toHaveLength(0);
    expect(second.showJoinHint).toBe(false);
    expect(await second.resume()).toBe(true);
    devices.stream.open();
    expect(second.sessionId).toBe('sid');
    expect(second.joined).toBe(false);
    expect(second.state).toBe('live');
    expect(second.transcript.items.map(r => r.text)).toEqual(['hello']);
    expect(server.createSession).toHaveBeenCalledTimes(1);
    await second.stop();
    expect(server.deleteSession).toHaveBeenCalledWith('sid');
    expect(storage.getItem(SESSION_KEY)).toBeNull();
  });

  it('forgets a session that has ended meanwhile', async () => {
    storage.setItem(SESSION_KEY, 'gone');
    server.getSession.mockResolvedValue({
      id: 'gone',
      state: 'closed'
    } as api.ISession);
    const c = newModel();
    expect(await c.resume()).toBe(false);
    expect(c.state).toBe('idle');
    expect(storage.getItem(SESSION_KEY)).toBeNull();
  });
});

describe('Insert into notebook', () => {
  it('writes a title cell and one Markdown cell per turn', async () => {
    const insertCells = jest.fn(async () => 'Untitled.ipynb');
    const c = newModel({ insertCells });
    await c.start();
    devices.stream.open();
    c.transcript.update('user', 1, 'Will it rain?', true);
    c.transcript.update('model', 1, 'No.', true);
    expect(await c.insertIntoNotebook()).toBe('Untitled.ipynb');
    const [[cells]] = insertCells.mock.calls as unknown as [[string[]]];
    expect(cells[0]).toMatch(/^# Gemini Live conversation /);
    expect(cells.slice(1)).toEqual([
      '## Turn 1\n\n**You:** Will it rain?\n\n**Gemini:** No.'
    ]);
    expect(c.message).toBe('Conversation inserted into Untitled.ipynb');
  });

  it('says to open a notebook when none is active', async () => {
    const c = newModel({ insertCells: async () => null });
    c.transcript.update('user', 1, 'hi', true);
    await c.insertIntoNotebook();
    expect(c.message).toBe('Open a notebook to insert the conversation into.');
  });
});

function environment(
  overrides: Partial<IPreflightEnvironment> = {}
): IPreflightEnvironment {
  return {
    secureContext: true,
    microphoneAllowedByPolicy: () => true,
    microphonePermission: async () => 'prompt',
    audioInputs: async () => 1,
    websocketWorks: async () => true,
    ...overrides
  };
}

const codes = async (env: IPreflightEnvironment) =>
  (await preflight(env, DEFAULT_TRANS)).map(p => p.code);

describe('the pre-flight check', () => {
  it('finds nothing wrong on a good page', async () => {
    expect(await codes(environment())).toEqual([]);
  });

  it('explains an insecure context with the fix', async () => {
    const [problem] = await preflight(
      environment({ secureContext: false }),
      DEFAULT_TRANS
    );
    expect(problem.code).toBe('insecure');
    expect(problem.message).toMatch(/not a secure context/);
    expect(problem.action).toMatch(/https/);
    expect(problem.action).toMatch(/ssh -L/);
  });

  it('finds a frame without microphone permission', async () => {
    expect(
      await codes(environment({ microphoneAllowedByPolicy: () => false }))
    ).toEqual(['frame']);
  });

  it('finds a denied permission', async () => {
    expect(
      await codes(environment({ microphonePermission: async () => 'denied' }))
    ).toEqual(['denied']);
  });

  it('finds no microphone', async () => {
    expect(await codes(environment({ audioInputs: async () => 0 }))).toEqual([
      'no-microphone'
    ]);
  });

  it('finds a proxy that blocks websockets', async () => {
    expect(
      await codes(environment({ websocketWorks: async () => false }))
    ).toEqual(['websocket']);
  });

  it('is shown by the panel model, and again after a failed Start', async () => {
    const env = environment({ microphonePermission: async () => 'denied' });
    const c = newModel({ preflight: env });
    await c.checkPreflight();
    expect(c.problems?.map(p => p.code)).toEqual(['denied']);
    const check = jest.spyOn(c, 'checkPreflight');
    server.createSession.mockRejectedValue(new Error('nope'));
    await c.start();
    await tick();
    expect(check).toHaveBeenCalledTimes(1);
  });
});

it('STATUS fixture has echo only', () => {
  expect(STATUS.backends.gemini.available).toBe(false);
});
