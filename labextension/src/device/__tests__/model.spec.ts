/**
 * The inline device's states with the panel's fakes injected (stream, audio devices,
 * REST API): idle → starting → live; failed with what to do; stopped; session ended.
 */
import { TranslationBundle } from '@jupyterlab/translation';

import { ISession } from '../../api';
import { MicrophoneError } from '../../audio/microphone';
import { ClientControl } from '../../stream';
import { FakeDevices, loud, tick } from '../../panel/__tests__/fakes';
import { DeviceModel } from '../model';

const DATA = { session_id: 'relay-1', sample_rate: 16000, label: 'mic' };

const relaySession = {
  id: 'relay-1',
  backend: 'relay',
  activity_detection: 'auto',
  state: 'live',
  device_connected: false
} as ISession;

let devices: FakeDevices;

beforeEach(() => {
  devices = new FakeDevices();
  devices.server.getSession.mockResolvedValue(relaySession);
});

const statuses = (): ClientControl[] =>
  devices.stream.sent.filter(m => m.type === 'device_status');

async function started(model = new DeviceModel(DATA, devices.options)) {
  await model.start();
  return model;
}

async function live(): Promise<DeviceModel> {
  const model = await started();
  devices.stream.open();
  return model;
}

describe('DeviceModel', () => {
  it('is idle until Start microphone is pressed, and says so', () => {
    const model = new DeviceModel(DATA, devices.options);
    expect(model.state).toBe('idle');
    expect(model.message).toMatch(/Start microphone/);
    expect(model.canStart).toBe(true);
    expect(model.canStop).toBe(false);
  });

  it('starts: starting until the stream is open, then live and the kernel told', async () => {
    const model = new DeviceModel(DATA, devices.options);
    const states: string[] = [];
    model.changed.connect(() => states.push(model.state));
    const starting = model.start();
    expect(model.state).toBe('starting');
    await starting;
    // The session is the kernel's: joined, exclusively, never created.
    expect(devices.server.getSession).toHaveBeenCalledWith('relay-1');
    expect(devices.server.createSession).not.toHaveBeenCalled();
    expect(devices.stream.options).toEqual({
      sessionId: 'relay-1',
      exclusive: true
    });
    expect(model.state).toBe('starting');
    devices.stream.open();
    expect(model.state).toBe('live');
    expect(states).toEqual(['starting', 'live']);
    expect(statuses()).toEqual([
      { type: 'device_status', status: 'started', reason: null }
    ]);
    expect(model.canStart).toBe(false);
    expect(model.canStop).toBe(true);
  });

  it('sends the microphone and plays the kernel audio once live', async () => {
    const model = await live();
    devices.engine.onFrame(loud());
    expect(devices.stream.audio).toHaveLength(1);
    expect(model.level()).toBeGreaterThan(0);
    const pcm = new ArrayBuffer(480);
    devices.stream.audioReceived.emit(pcm);
    expect(devices.player.enqueue).toHaveBeenCalledWith(pcm);
    devices.player.playedMs = 1000;
    devices.engine.onReport?.({
      state: 'playing',
      playedMs: 1000,
      bufferedMs: 0,
      targetMs: 60,
      underruns: 0,
      meanSquare: 0.1
    });
    expect(model.playedMs).toBe(1000);
    // The kernel cleared its queue: the player goes silent at once.
    devices.stream.emit({ type: 'interrupted', turn: 1 });
    expect(devices.player.interrupt).toHaveBeenCalled();
  });

  it.each([
    ['denied', /Allow the microphone.*press Start microphone again/],
    ['missing', /No microphone was found.*press Start microphone again/],
    ['insecure', /not a secure context.*https.*localhost/]
  ] as const)(
    'fails when the microphone is %s, tells the kernel what to do, and lets go',
    async (problem, advice) => {
      devices.audio.captureError = new MicrophoneError(problem);
      const model = await live();
      expect(model.state).toBe('failed');
      expect(model.message).toMatch(advice);
      expect(statuses()).toEqual([
        { type: 'device_status', status: 'failed', reason: model.message }
      ]);
      await tick();
      // The speaker and the stream are released; the kernel's session is not deleted.
      expect(devices.audio.close).toHaveBeenCalled();
      expect(devices.stream.isDisposed).toBe(true);
      expect(devices.server.deleteSession).not.toHaveBeenCalled();
      expect(model.canStart).toBe(true);
    }
  );

  it('fails with the reason when the session cannot be joined', async () => {
    devices.server.getSession.mockResolvedValue({
      ...relaySession,
      state: 'closed'
    });
    const model = await started();
    expect(model.state).toBe('failed');
    expect(model.message).toMatch(/Could not start: that session has ended/);
    expect(devices.streams).toHaveLength(0);
    expect(devices.audio.close).toHaveBeenCalled();
  });

  it('fails when the server refuses the device (another one holds the session)', async () => {
    devices.server.streamRefusal.mockResolvedValue(
      'another device is connected'
    );
    const model = await started();
    devices.stream.connectionChanged.emit({
      state: 'closed',
      reason: 'refused',
      refused: true
    });
    await tick();
    expect(model.state).toBe('failed');
    expect(model.message).toMatch(/another device is connected/);
  });

  it('stops: the kernel is told, the microphone released, the session kept', async () => {
    const model = await live();
    const stream = devices.stream;
    await model.stop();
    expect(model.state).toBe('stopped');
    expect(model.message).toMatch(/microphone is off/);
    expect(stream.sent.filter(m => m.type === 'device_status')).toEqual([
      { type: 'device_status', status: 'started', reason: null },
      { type: 'device_status', status: 'stopped', reason: null }
    ]);
    expect(devices.audio.close).toHaveBeenCalled();
    expect(stream.isDisposed).toBe(true);
    expect(devices.server.deleteSession).not.toHaveBeenCalled();
    // And can start again.
    expect(model.canStart).toBe(true);
    await model.start();
    expect(devices.streams).toHaveLength(2);
  });

  it('Stop while starting waits for the start, then releases everything', async () => {
    const model = new DeviceModel(DATA, devices.options);
    const starting = model.start();
    await model.stop();
    await starting;
    expect(model.state).toBe('stopped');
    expect(devices.audio.close).toHaveBeenCalled();
    expect(devices.stream.isDisposed).toBe(true);
  });

  it('session ended (the kernel left the block): ended, microphone released', async () => {
    const model = await live();
    devices.stream.connectionChanged.emit({
      state: 'closed',
      reason: 'the session was closed (code 1000)'
    });
    await tick();
    expect(model.state).toBe('ended');
    expect(model.message).toMatch(/session ended; the microphone is off/);
    expect(devices.audio.close).toHaveBeenCalled();
    expect(model.canStart).toBe(false);
    expect(model.canStop).toBe(false);
  });

  it('says it is reconnecting, and live again once the stream is back', async () => {
    const model = await live();
    devices.stream.drop();
    expect(model.state).toBe('live');
    expect(model.message).toMatch(/reconnecting/);
    devices.stream.open();
    expect(model.message).toMatch(/^Live/);
    // The kernel hears `started` again from the new connection.
    expect(statuses()).toHaveLength(2);
  });

  it('disposing (output cleared, cell re-run) releases the microphone', async () => {
    const model = await live();
    model.dispose();
    await tick();
    expect(devices.audio.close).toHaveBeenCalled();
    expect(statuses().map(s => (s as { status: string }).status)).toEqual([
      'started',
      'stopped'
    ]);
  });

  it('says everything through the translator', async () => {
    const said: string[] = [];
    const trans = {
      __: (text: string, ...args: unknown[]) => {
        said.push(text);
        return `«${text.replace(/%(\d)/g, (_, i) => String(args[+i - 1]))}»`;
      }
    } as unknown as TranslationBundle;
    devices.audio.captureError = new MicrophoneError('denied');
    const model = new DeviceModel(DATA, { ...devices.options, trans });
    expect(model.message).toMatch(/^«Press «Start microphone» to let/);
    await model.start();
    devices.stream.open();
    expect(model.message).toMatch(/^«Microphone access was denied/);
    expect(said).toContain('Start microphone');
  });
});

describe('Conversation: device status to a relay session only', () => {
  it('an echo session hears no device_status (the panel as a device of others)', async () => {
    devices.server.getSession.mockResolvedValue({
      ...relaySession,
      backend: 'echo'
    });
    const model = await live();
    await model.stop();
    expect(statuses()).toEqual([]);
  });
});
