import { Widget } from '@lumino/widgets';
/* eslint-disable @typescript-eslint/no-explicit-any */

import * as api from '../../api';
import { LivePanelModel } from '../panel-model';
import { LivePanel } from '../widget';
import { FakeDevices, until } from './fakes';

let devices: FakeDevices;
let mockedApi: jest.Mocked<api.ISessionsApi>;

beforeEach(() => {
  devices = new FakeDevices();
  mockedApi = devices.server;
  mockedApi.listSessions.mockResolvedValue([]);
});

const newModel = () =>
  new LivePanelModel({
    saveFile: jest.fn(),
    storage: null,
    ...devices.options
  });

const waiting = {
  id: '3f2a9c1e-0000-4000-8000-000000000000',
  backend: 'echo',
  voice: 'Puck',
  activity_detection: 'auto',
  state: 'live',
  created: '2024-05-01T14:02:00',
  device_connected: false
} as api.ISession;

async function rendered(controller: LivePanelModel): Promise<LivePanel> {
  const panel = new LivePanel(controller);
  Widget.attach(panel, document.body);
  panel.update();
  // React renders asynchronously; on a busy machine 50 ms was not always enough.
  for (let i = 0; i < 200 && !panel.node.querySelector('[data-testid]'); i++) {
    await new Promise(resolve => setTimeout(resolve, 10));
  }
  await new Promise(resolve => setTimeout(resolve, 50));
  return panel;
}

const byTestId = (panel: LivePanel, id: string) =>
  panel.node.querySelector(`[data-testid="${id}"]`);

describe('LivePanel', () => {
  it('exposes the DOM hooks browser tests use', async () => {
    const controller = newModel();
    controller.setPreferences({ pushToTalk: true }, true);
    const panel = await rendered(controller);
    expect(panel.node.dataset.testid).toBe('gemini-live-panel');
    expect(panel.node.dataset.sessionId).toBe('');
    expect(panel.node.dataset.joined).toBe('false');
    for (const id of [
      'gemini-live-session',
      'gemini-live-start',
      'gemini-live-mute',
      'gemini-live-ptt',
      'gemini-live-status',
      'gemini-live-transcript',
      'gemini-live-text-input',
      'gemini-live-send',
      'gemini-live-save',
      'gemini-live-mic-level',
      'gemini-live-model-level',
      'gemini-live-latency',
      'gemini-live-backend',
      'gemini-live-model',
      'gemini-live-voice',
      'gemini-live-instruction',
      'gemini-live-ptt-mode',
      'gemini-live-half-duplex'
    ]) {
      expect(byTestId(panel, id)).not.toBeNull();
    }
    expect(
      byTestId(panel, 'gemini-live-status')?.getAttribute('data-state')
    ).toBe('idle');
    panel.dispose();
  });

  it('renders transcript rows with role, turn and finality', async () => {
    const controller = newModel();
    const panel = await rendered(controller);
    controller.transcript.update('user', 1, 'Hi', true);
    controller.transcript.update('model', 1, 'Hel', false);
    const rowsShown = () =>
      panel.node.querySelectorAll('[data-testid="gemini-live-row"]');
    await until(() => rowsShown().length >= 2, 'rows');
    const rows = Array.from(rowsShown());
    expect(
      rows.map(r => [
        r.getAttribute('data-role'),
        r.getAttribute('data-turn'),
        r.getAttribute('data-final')
      ])
    ).toEqual([
      ['user', '1', 'true'],
      ['model', '1', 'false']
    ]);
    expect(rows[1].classList).toContain('jp-mod-partial');
    panel.dispose();
  });

  it('groups a turn, marks typed and interrupted rows, folds tool calls, announces final turns', async () => {
    const controller = newModel();
    const panel = await rendered(controller);
    controller.transcript.update('user', 1, 'Hi', true);
    controller.transcript.addTyped('t1', 'and Rome?');
    controller.transcript.acceptTyped('t1', 1);
    controller.transcript.update('model', 1, 'Hel', false);
    controller.transcript.addToolCall(1, 'c1', 'get_weather', { city: 'Rome' });
    controller.transcript.interrupt(1);
    await until(
      () => !!panel.node.querySelector('[data-testid="gemini-live-turn"]'),
      'the turn'
    );
    const turns = panel.node.querySelectorAll(
      '[data-testid="gemini-live-turn"]'
    );
    expect(turns).toHaveLength(1);
    expect(turns[0].getAttribute('aria-label')).toBe('Turn 1');
    const notes = Array.from(
      panel.node.querySelectorAll('.jp-GeminiLive-note')
    ).map(n => n.textContent);
    expect(notes).toEqual(['typed', 'interrupted']);
    const tool = panel.node.querySelector('details.jp-mod-tool');
    expect(tool?.querySelector('summary')?.textContent).toContain(
      'get_weather'
    );
    expect(panel.node.querySelector('[aria-live="polite"]')?.textContent).toBe(
      'Gemini: Hel'
    );
    expect(
      panel.node.querySelector('[role="region"]')?.getAttribute('tabindex')
    ).toBe('0');
    panel.dispose();
  });

  it('puts every string through the translator', async () => {
    const translator = {
      languageCode: 'xx',
      load: () => ({
        __: (text: string, ...args: unknown[]) =>
          `«${text.replace(/%(\d+)/g, (_m, n) => String(args[Number(n) - 1]))}»`,
        _n: (one: string) => `«${one}»`,
        _p: (_c: string, text: string) => `«${text}»`,
        _np: (_c: string, one: string) => `«${one}»`,
        gettext: (text: string) => `«${text}»`,
        ngettext: (one: string) => `«${one}»`,
        pgettext: (_c: string, text: string) => `«${text}»`,
        npgettext: (_c: string, one: string) => `«${one}»`,
        dcnpgettext: (_d: string, _c: string, one: string) => `«${one}»`
      })
    };
    const controller = new LivePanelModel({
      saveFile: jest.fn(),
      storage: null,
      translator: translator as any,
      ...devices.options
    });
    const panel = await rendered(controller);
    const walker = document.createTreeWalker(panel.node, NodeFilter.SHOW_TEXT);
    const untranslated: string[] = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.trim() ?? '';
      if (text && !/^«[^]*»$/.test(text) && !/^[\s·…]*$/.test(text)) {
        untranslated.push(text);
      }
    }
    expect(untranslated).toEqual([]);
    panel.dispose();
  });

  it('holding the push-to-talk key talks only while live', async () => {
    const controller = newModel();
    controller.setPreferences({ pushToTalk: true, pushToTalkKey: 'F8' }, true);
    const talking = jest.spyOn(controller, 'setTalking');
    const panel = await rendered(controller);
    document.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'F8', code: 'F8' })
    );
    expect(talking).not.toHaveBeenCalled();
    controller.state = 'live';
    document.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'F8', code: 'F8' })
    );
    document.dispatchEvent(
      new KeyboardEvent('keyup', { key: 'F8', code: 'F8' })
    );
    expect(talking.mock.calls).toEqual([[true], [false]]);
    panel.dispose();
  });

  it('offers a waiting session in the Session select, with a hint, and marks a join', async () => {
    mockedApi.listSessions.mockResolvedValue([waiting]);
    const controller = newModel();
    const panel = await rendered(controller);
    const select = byTestId(panel, 'gemini-live-session') as HTMLSelectElement;
    const options = Array.from(select.options).map(o => [o.value, o.text]);
    expect(options).toEqual([
      ['', 'New session'],
      [waiting.id, 'echo · Puck · started 14:02 · 3f2a…']
    ]);
    expect(select.value).toBe('');
    expect(byTestId(panel, 'gemini-live-join-hint')?.textContent).toMatch(
      /A notebook session is waiting/
    );
    controller.chooseSession(waiting.id);
    await until(
      () => !byTestId(panel, 'gemini-live-join-hint'),
      'the hint to go once the session is chosen'
    );
    expect(
      (byTestId(panel, 'gemini-live-backend') as HTMLSelectElement).disabled
    ).toBe(true);
    mockedApi.getSession.mockResolvedValue(waiting);
    await controller.start();
    devices.stream.open();
    expect(panel.node.dataset.joined).toBe('true');
    expect(panel.node.dataset.sessionId).toBe(waiting.id);
    panel.dispose();
    expect(controller.joinable.polling).toBe(false);
  });
});
