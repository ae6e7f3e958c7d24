/**
 * The three additions mounted in the panel model: sharing stops with the session, the
 * session request is gated by the model, and the saved Markdown has sources and usage.
 */
import * as api from '../../api';
import { STATUS as CAPABLE } from '../../options/__tests__/capabilities-fixture';
import { FakeDevices, STATUS as status } from '../../panel/__tests__/fakes';
import { LivePanelModel } from '../../panel/panel-model';
import { ServerEvent } from '../../stream';
import { FakeClock } from '../../share/__tests__/fake-clock';

let devices: FakeDevices;
let saved: string[];

beforeEach(() => {
  devices = new FakeDevices();
  saved = [];
});

class Track extends EventTarget {
  stopped = false;
  stop(): void {
    this.stopped = true;
  }
}

async function live(prefs = {}, withCapabilities = false) {
  const server = devices.server;
  server.getStatus.mockResolvedValue(
    withCapabilities ? { ...status, ...CAPABLE } : status
  );
  server.createSession.mockResolvedValue({ id: 'sid' } as api.ISession);
  server.deleteSession.mockResolvedValue(undefined);
  const track = new Track();
  const stream = {
    getTracks: () => [track],
    getVideoTracks: () => [track]
  } as unknown as MediaStream;
  const clock = new FakeClock();
  const model = new LivePanelModel({
    saveFile: jest.fn(async (name: string, content: string) => {
      saved.push(content);
      return `dir/${name}`;
    }),
    storage: null,
    ...devices.options,
    share: {
      devices: {
        getUserMedia: async () => stream,
        getDisplayMedia: async () => stream
      },
      capture: async () => 'AAAA',
      clock,
      createVideo: () =>
        ({
          videoWidth: 640,
          videoHeight: 480,
          srcObject: null
        }) as unknown as HTMLVideoElement
    }
  });
  await model.refreshStatus();
  model.setPreferences(prefs, true);
  await model.start();
  devices.stream.open();
  return { model, track, clock };
}

const emit = (event: Record<string, unknown>) =>
  devices.stream.emit(event as unknown as ServerEvent);

describe('the panel with sharing, model options and conversation state', () => {
  it('sends camera frames on the device stream and stops sharing with the session', async () => {
    const { model, track, clock } = await live();
    await model.share.start('camera');
    await clock.advance(1000);
    const images = devices.stream.sent.filter(c => c.type === 'image');
    expect(images).toHaveLength(2);
    expect(images[0]).toEqual({
      type: 'image',
      mime_type: 'image/jpeg',
      data: 'AAAA'
    });
    await model.stop();
    expect(track.stopped).toBe(true);
    expect(model.share.kind).toBeNull();
  });

  it('sharing stops when the session ends on its own', async () => {
    const { model, track } = await live();
    await model.share.start('screen');
    devices.stream.connectionChanged.emit({ state: 'closed', reason: 'x' });
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(track.stopped).toBe(true);
  });

  it('sends only the options the chosen model supports', async () => {
    await live(
      {
        model: 'gemini-3.8-live',
        thinkingLevel: 'high',
        proactiveAudio: true,
        googleSearch: true
      },
      true
    );
    const request = devices.server.createSession.mock.calls[0][0];
    expect(request.google_search).toBe(true);
    expect(request).not.toHaveProperty('thinking_level');
    expect(request).not.toHaveProperty('proactive_audio');
  });

  it('shows thinking, and saves sources and usage in the Markdown', async () => {
    const { model } = await live();
    emit({
      type: 'transcript',
      role: 'user',
      text: 'search rain',
      turn: 1,
      final: true,
      interrupted: false
    });
    emit({ type: 'thinking', turn: 1, active: true });
    expect(model.liveState.thinking).toBe(true);
    emit({
      type: 'transcript',
      role: 'model',
      text: 'It rains.',
      turn: 1,
      final: true,
      interrupted: false
    });
    expect(model.liveState.thinking).toBe(true);
    emit({ type: 'thinking', turn: 1, active: false });
    expect(model.liveState.thinking).toBe(false);
    emit({
      type: 'grounding',
      turn: 1,
      sources: [{ uri: 'https://w.example/', title: 'Weather' }]
    });
    emit({
      type: 'usage',
      turn: 1,
      usage: {
        turn: { tokens: { total: 42 }, cost_usd: 0.001 },
        session: { tokens: { total: 42 }, cost_usd: 0.001 }
      }
    });
    emit({ type: 'turn_complete', turn: 1 });
    await model.saveTranscript();
    expect(saved[0]).toContain('**Gemini:** It rains.');
    expect(saved[0]).toContain('Sources:\n\n- [Weather](<https://w.example/>)');
    expect(saved[0]).toContain('*Turn 1: 42 tokens, about $0.0010.*');
    expect(saved[0]).toContain('*Session: 42 tokens');
  });
});
