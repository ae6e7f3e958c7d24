/**
 * What a user sees of a turn's end and of the conversation's state beyond its words: why
 * a turn ended abnormally, "hearing you", a spent budget, and the same usage, reasons and
 * links for a joined session's history as for live turns.
 */
import { Widget } from '@lumino/widgets';

import * as api from '../../api';
import {
  FakeDevices,
  ev,
  transcriptEntry,
  until
} from '../../panel/__tests__/fakes';
import { LivePanelModel } from '../../panel/panel-model';
import { DEFAULT_TRANS } from '../../panel/status-text';
import { LivePanel } from '../../panel/widget';
import { IUsageTotals, ServerEvent } from '../../stream';
import { ConversationState } from '../conversation-state';
import { reasonKind, reasonText } from '../turn-reason';

const modalities = { text: 0, audio: 0, image: 0 };
const totals = (total: number, cost: number): IUsageTotals => ({
  tokens: {
    prompt: modalities,
    response: { ...modalities, audio: total },
    thinking: 0,
    tool_use: 0,
    total
  },
  cost_usd: cost
});

describe('turn reasons in plain words', () => {
  it('groups the service reasons by what the user can make of them', () => {
    expect(reasonKind('GENERATED_CONTENT_SAFETY')).toBe('reply_blocked');
    expect(reasonKind('GENERATED_AUDIO_SAFETY')).toBe('reply_blocked');
    expect(reasonKind('PROHIBITED_INPUT_CONTENT')).toBe('input_blocked');
    expect(reasonKind('INPUT_IMAGE_CELEBRITY')).toBe('input_blocked');
    expect(reasonKind('BLOCKLIST')).toBe('input_blocked');
    expect(reasonKind('MALFORMED_FUNCTION_CALL')).toBe('malformed_call');
    expect(reasonKind('NEED_MORE_INPUT')).toBe('need_input');
    expect(reasonKind('SOMETHING_NEW_IN_2027')).toBe('other');
  });

  it('says each kind differently, through the translator', () => {
    const said = [
      'GENERATED_CONTENT_SAFETY',
      'PROHIBITED_INPUT_CONTENT',
      'MALFORMED_FUNCTION_CALL',
      'RESPONSE_REJECTED',
      'NEED_MORE_INPUT',
      'MAX_REGENERATION_REACHED',
      'SOMETHING_NEW'
    ].map(reason => reasonText(reason, DEFAULT_TRANS));
    expect(new Set(said).size).toBe(said.length);
    expect(said[0]).toMatch(/safety/);
    expect(said[2]).toMatch(/tool call/);
    const trans = { ...DEFAULT_TRANS, __: (text: string) => `«${text}»` };
    expect(reasonText('GENERATED_CONTENT_SAFETY', trans)).toMatch(/^«.*»$/);
  });
});

describe('ConversationState: reasons, voice activity, history', () => {
  it('keeps the reason of a turn that ended abnormally, none for a normal end', () => {
    const state = new ConversationState();
    state.handle(ev('thinking', { turn: 1, active: true }));
    expect(
      state.handle(
        ev('turn_complete', { turn: 1, reason: 'GENERATED_CONTENT_SAFETY' })
      )
    ).toBe(true);
    expect(state.reason(1)).toBe('GENERATED_CONTENT_SAFETY');
    expect(state.thinking).toBe(false);
    state.handle(ev('turn_complete', { turn: 2, reason: null }));
    expect(state.reason(2)).toBeNull();
    expect(state.markdown(1)[0]).toBe(
      '_The turn ended early: GENERATED_CONTENT_SAFETY._'
    );
    state.clear();
    expect(state.reason(1)).toBeNull();
  });

  it('hears the user between voice_activity start and end', () => {
    const state = new ConversationState();
    expect(state.hearing).toBe(false);
    state.handle(ev('voice_activity', { turn: 1, activity: 'start' }));
    expect(state.hearing).toBe(true);
    state.handle(ev('voice_activity', { turn: 1, activity: 'end' }));
    expect(state.hearing).toBe(false);
    state.handle(ev('voice_activity', { turn: 2, activity: 'start' }));
    state.clear();
    expect(state.hearing).toBe(false);
  });

  it("takes the history's usage, reasons and sources as live turns have them", () => {
    const state = new ConversationState();
    state.loadHistory(
      [
        transcriptEntry({ role: 'user', turn: 1, text: 'hi' }),
        transcriptEntry({
          role: 'model',
          turn: 1,
          text: 'It rains.',
          usage: totals(40, 0.002),
          sources: [
            { uri: 'https://w.example/', title: 'Weather' },
            { uri: 'javascript:alert(1)', title: 'evil' }
          ]
        }),
        transcriptEntry({ role: 'user', turn: 2, text: 'please be unsafe' }),
        transcriptEntry({
          role: 'model',
          turn: 2,
          usage: totals(5, 0.0001),
          reason: 'GENERATED_CONTENT_SAFETY'
        })
      ],
      totals(45, 0.0021)
    );
    expect(state.turnUsage(1)).toEqual({ tokens: 40, costUsd: 0.002 });
    expect(state.sources(1)).toEqual([
      { uri: 'https://w.example/', title: 'Weather' }
    ]);
    expect(state.reason(1)).toBeNull();
    expect(state.reason(2)).toBe('GENERATED_CONTENT_SAFETY');
    expect(state.session).toEqual({ tokens: 45, costUsd: 0.0021 });
  });
});

describe('the panel', () => {
  let devices: FakeDevices;
  let saved: string[];

  beforeEach(() => {
    saved = [];
    devices = new FakeDevices();
    devices.server.createSession.mockResolvedValue({
      id: 'sid'
    } as api.ISession);
  });

  const emit = (event: Record<string, unknown>) =>
    devices.stream.emit(event as unknown as ServerEvent);

  async function shown(): Promise<{ model: LivePanelModel; panel: LivePanel }> {
    const model = new LivePanelModel({
      saveFile: jest.fn(async (name: string, content: string) => {
        saved.push(content);
        return name;
      }),
      storage: null,
      ...devices.options
    });
    await model.refreshStatus();
    const panel = new LivePanel(model);
    Widget.attach(panel, document.body);
    return { model, panel };
  }

  const find = (panel: LivePanel, id: string) =>
    panel.node.querySelector(`[data-testid="${id}"]`);

  it('says in the turn why it ended early, with the raw reason as its title', async () => {
    const { model, panel } = await shown();
    await model.start();
    devices.stream.open();
    emit({
      type: 'transcript',
      role: 'user',
      text: 'please be unsafe',
      turn: 1,
      final: true,
      interrupted: false
    });
    emit({
      type: 'turn_complete',
      turn: 1,
      reason: 'GENERATED_CONTENT_SAFETY'
    });
    emit({ type: 'turn_complete', turn: 2, reason: null });
    const reasons = () =>
      panel.node.querySelectorAll('[data-testid="gemini-live-turn-reason"]');
    await until(() => reasons().length > 0, 'the reason line');
    const lines = reasons();
    expect(lines).toHaveLength(1);
    const turn = lines[0].closest('[data-testid="gemini-live-turn"]');
    expect(turn?.getAttribute('data-turn')).toBe('1');
    expect(lines[0].textContent).toBe(
      'Gemini stopped: its safety filters blocked the reply.'
    );
    expect(lines[0].getAttribute('title')).toContain(
      'GENERATED_CONTENT_SAFETY'
    );
    panel.dispose();
  });

  it('shows "Hearing you" while the service hears the user', async () => {
    const { model, panel } = await shown();
    await model.start();
    devices.stream.open();
    const hearing = () => find(panel, 'gemini-live-hearing');
    const shows = (value: string | null) => () =>
      (hearing()?.getAttribute('data-hearing') ?? null) === value;
    await until(shows('false'), 'the hearing indicator');
    expect(hearing()?.getAttribute('data-hearing')).toBe('false');
    expect(hearing()?.textContent).toBe('');
    emit({ type: 'voice_activity', turn: 1, activity: 'start' });
    await until(shows('true'), '"Hearing you"');
    expect(hearing()?.getAttribute('data-hearing')).toBe('true');
    expect(hearing()?.textContent).toBe('Hearing you');
    emit({ type: 'voice_activity', turn: 1, activity: 'end' });
    await until(shows('false'), '"Hearing you" to go');
    expect(hearing()?.textContent).toBe('');
    // A session that ends while the user speaks leaves no "Hearing you" behind.
    emit({ type: 'voice_activity', turn: 2, activity: 'start' });
    devices.stream.connectionChanged.emit({ state: 'closed', reason: 'gone' });
    await until(shows(null), 'the indicator to leave with the session');
    expect(hearing()).toBeNull();
    panel.dispose();
  });

  it('ends a session over budget with which budget and what to do', async () => {
    const { model, panel } = await shown();
    await model.start();
    devices.stream.open();
    const why =
      'This session used 1,200 tokens, more than its budget of 1,000 tokens ' +
      '(c.GeminiLive.budget_tokens): it was ended. Raise c.GeminiLive.budget_tokens to allow more.';
    emit({ type: 'error', code: 'budget_exceeded', message: why, fatal: true });
    emit({ type: 'state', state: 'error' });
    devices.stream.connectionChanged.emit({ state: 'closed', reason: why });
    const status = () => find(panel, 'gemini-live-status');
    await until(
      () => status()?.getAttribute('data-code') === 'budget_exceeded',
      'the budget status'
    );
    expect(model.state).toBe('error');
    expect(model.endCode).toBe('budget_exceeded');
    expect(status()?.textContent).toMatch(/^Budget reached\. /);
    expect(status()?.textContent).toContain('c.GeminiLive.budget_tokens');
    expect(status()?.textContent).toContain(
      'Press Start to begin a new session'
    );
    // Another ending says only what the stream said.
    await model.start();
    devices.stream.open();
    devices.stream.connectionChanged.emit({ state: 'closed', reason: 'gone' });
    await until(() => model.message === 'gone', 'the second ending');
    expect(model.endCode).toBeNull();
    expect(model.message).toBe('gone');
    panel.dispose();
  });

  it("shows a joined session's history with its meters, reasons and links", async () => {
    devices.server.getSession.mockResolvedValue({
      id: 'nb',
      state: 'live',
      device_connected: false,
      activity_detection: 'auto',
      stats: { usage: totals(45, 0.0021) }
    } as unknown as api.ISession);
    devices.server.getTranscript.mockResolvedValue([
      transcriptEntry({ role: 'user', turn: 1, text: 'search rain' }),
      transcriptEntry({
        role: 'model',
        turn: 1,
        text: 'It rains.',
        usage: totals(40, 0.002),
        sources: [{ uri: 'https://w.example/', title: 'Weather' }]
      }),
      transcriptEntry({ role: 'user', turn: 2, text: 'please be unsafe' }),
      transcriptEntry({
        role: 'model',
        turn: 2,
        text: '',
        usage: totals(5, 0.0001),
        reason: 'GENERATED_CONTENT_SAFETY'
      })
    ]);
    const { model, panel } = await shown();
    await model.start({ sessionId: 'nb' });
    devices.stream.open();
    await until(
      () =>
        panel.node.querySelectorAll('[data-testid="gemini-live-row"]').length >=
        3,
      "the joined session's rows"
    );
    const rows = Array.from(
      panel.node.querySelectorAll('[data-testid="gemini-live-row"]')
    ).map(row => row.getAttribute('data-turn'));
    // The empty entry that closes turn 2 holds its reason; it is no empty row.
    expect(rows).toEqual(['1', '1', '2']);
    const usages = Array.from(
      panel.node.querySelectorAll('[data-testid="gemini-live-turn-usage"]')
    ).map(usage => usage.getAttribute('data-tokens'));
    expect(usages).toEqual(['40', '5']);
    const link = find(panel, 'gemini-live-source');
    expect(link?.getAttribute('href')).toBe('https://w.example/');
    expect(
      find(panel, 'gemini-live-turn-reason')?.getAttribute('data-reason')
    ).toBe('GENERATED_CONTENT_SAFETY');
    expect(
      find(panel, 'gemini-live-session-usage')?.getAttribute('data-tokens')
    ).toBe('45');
    await model.saveTranscript();
    expect(saved[0]).toContain(
      '**You:** please be unsafe\n\n_The turn ended early: GENERATED_CONTENT_SAFETY._'
    );
    expect(saved[0]).toContain('*Turn 1: 40 tokens, about $0.0020.*');
    panel.dispose();
  });
});
