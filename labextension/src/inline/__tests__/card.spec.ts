import { IRenderMime } from '@jupyterlab/rendermime';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import * as api from '../../api';
import {
  CardCommands,
  ICardCommands,
  IPanelDevice,
  SessionCard
} from '../card';
import { parseCardData, SESSION_MIME_TYPE } from '../data';

// Only the session read is faked; the error class stays real for the 404 check.
jest.mock('../../api', () => ({
  ...jest.requireActual('../../api'),
  getSession: jest.fn()
}));
const getSession = api.getSession as jest.MockedFunction<typeof api.getSession>;

const DATA = {
  session_id: 'sid-1',
  backend: 'echo',
  model: 'echo-model',
  voice: 'Puck'
};

class FakeDevice implements IPanelDevice {
  sessionId: string | null = null;
  active = false;
  joined = false;
  readonly changed = new Signal<this, void>(this);

  become(sessionId: string | null, joined = true): void {
    this.sessionId = sessionId;
    this.active = sessionId !== null;
    this.joined = joined;
    this.changed.emit();
  }
}

function fakeCommands(enabled = true) {
  const execute = jest.fn(
    async (id: string, args?: ReadonlyPartialJSONObject) => undefined
  );
  const commands: ICardCommands = {
    execute,
    hasCommand: () => true,
    isEnabled: () => enabled
  };
  return { commands, execute };
}

function session(state: api.SessionState, error: string | null = null) {
  return {
    ...DATA,
    id: DATA.session_id,
    state,
    error
  } as unknown as api.ISession;
}

async function renderCard(
  data: unknown,
  options: { device?: FakeDevice | null; enabled?: boolean } = {}
) {
  const { commands, execute } = fakeCommands(options.enabled);
  const card = new SessionCard({
    commands,
    device: options.device ?? null,
    pollMs: 60_000
  });
  Widget.attach(card, document.body);
  await card.renderModel(
    // The card reads only `data`, so a plain object stands in for a MimeModel.
    { data: { [SESSION_MIME_TYPE]: data } } as unknown as IRenderMime.IMimeModel
  );
  const button = card.node.querySelector<HTMLButtonElement>(
    '[data-testid="gemini-live-inline-talk"]'
  );
  return { card, button, execute };
}

const cards: SessionCard[] = [];
afterEach(() => {
  cards.splice(0).forEach(card => card.dispose());
  getSession.mockReset();
});

async function shown(
  data: unknown,
  options: Parameters<typeof renderCard>[1] = {}
) {
  const rendered = await renderCard(data, options);
  cards.push(rendered.card);
  return rendered;
}

describe('SessionCard', () => {
  it('shows the setup and state from the output and the server', async () => {
    getSession.mockResolvedValue(session('live'));
    const { card, button } = await shown(DATA);
    const node = card.node;
    expect(node.dataset.testid).toBe('gemini-live-inline');
    expect(node.dataset.sessionId).toBe('sid-1');
    expect(node.dataset.state).toBe('live');
    expect(node.textContent).toContain('Gemini Live');
    expect(node.textContent).toContain('echo · echo-model · Puck');
    expect(getSession).toHaveBeenCalledWith('sid-1');
    expect(button?.textContent).toBe('Talk');
    expect(button?.disabled).toBe(false);
  });

  it('Talk joins the session as its device and opens the panel', async () => {
    getSession.mockResolvedValue(session('live'));
    const { button, execute } = await shown(DATA);
    button?.click();
    await Promise.resolve();
    expect(execute).toHaveBeenCalledWith(CardCommands.start, {
      sessionId: 'sid-1'
    });
    expect(execute).toHaveBeenCalledWith(CardCommands.open);
  });

  it('reads Leave while the panel is the joined device, and leaves', async () => {
    getSession.mockResolvedValue(session('live'));
    const device = new FakeDevice();
    const { card, execute } = await shown(DATA, { device });
    device.become('sid-1');
    const button = card.node.querySelector('button')!;
    expect(button.textContent).toBe('Leave');
    button.click();
    expect(execute).toHaveBeenCalledWith(CardCommands.stop);
    expect(execute).not.toHaveBeenCalledWith(
      CardCommands.start,
      expect.anything()
    );
    device.become(null);
    expect(button.textContent).toBe('Talk');
  });

  it('says Stop when the panel created the session itself', async () => {
    getSession.mockResolvedValue(session('live'));
    const device = new FakeDevice();
    const { button } = await shown(DATA, { device });
    device.become('sid-1', false);
    expect(button?.textContent).toBe('Stop');
  });

  it('Talk is disabled while the panel talks in another session', async () => {
    getSession.mockResolvedValue(session('live'));
    const device = new FakeDevice();
    device.become('other');
    const { button } = await shown(DATA, { device, enabled: false });
    expect(button?.textContent).toBe('Talk');
    expect(button?.disabled).toBe(true);
    expect(button?.title).toMatch(/another conversation/);
  });

  it.each([
    ['closed', session('closed')],
    ['gone', new api.GeminiLiveApiError('unknown session', 404)]
  ])(
    'an ended session (%s) is greyed and cannot be joined',
    async (_, answer) => {
      if (answer instanceof Error) {
        getSession.mockRejectedValue(answer);
      } else {
        getSession.mockResolvedValue(answer);
      }
      const { card, button } = await shown(DATA);
      expect(card.node.classList).toContain('jp-mod-ended');
      expect(card.node.textContent).toContain('ended');
      expect(button?.disabled).toBe(true);
    }
  );

  it('stops asking once the session ended, keeps asking while live', async () => {
    jest.useFakeTimers();
    try {
      getSession.mockResolvedValue(session('live'));
      const { card } = await shown(DATA);
      getSession.mockClear();
      jest.advanceTimersByTime(60_000);
      expect(getSession).toHaveBeenCalledTimes(1);
      getSession.mockResolvedValue(session('closed'));
      await card.refresh();
      getSession.mockClear();
      jest.advanceTimersByTime(120_000);
      expect(getSession).not.toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
    }
  });

  it('a server it cannot reach leaves the state unknown, not ended', async () => {
    getSession.mockRejectedValue(new api.GeminiLiveApiError('offline', 0));
    const { card, button } = await shown(DATA);
    expect(card.node.dataset.state).toBe('unreachable');
    expect(card.node.textContent).toContain('offline');
    expect(button?.disabled).toBe(false);
  });

  it.each([
    [undefined, 'no session description'],
    ['text', 'no session description'],
    [{ ...DATA, session_id: '' }, 'session_id is missing'],
    [{ ...DATA, voice: 3 }, 'voice is missing']
  ])('bad data %p renders a message', async (data, message) => {
    const { card, button } = await shown(data);
    expect(card.node.dataset.state).toBe('invalid');
    expect(card.node.textContent).toContain(message);
    expect(button).toBeNull();
    expect(getSession).not.toHaveBeenCalled();
  });
});

describe('parseCardData', () => {
  it('accepts the four strings', () => {
    expect(parseCardData(DATA)).toEqual({ ok: true, data: DATA });
  });
});
