import {
  ConversationState,
  formatCost,
  readSources,
  safeUrl
} from '../conversation-state';
import { ev } from '../../panel/__tests__/fakes';

describe('safeUrl', () => {
  it('keeps only http(s)', () => {
    expect(safeUrl('https://example.org/a')).toBe('https://example.org/a');
    expect(safeUrl('http://example.org')).toBe('http://example.org/');
    expect(safeUrl('javascript:alert(1)')).toBeNull();
    expect(safeUrl('data:text/html,x')).toBeNull();
    expect(safeUrl('file:///etc/passwd')).toBeNull();
    expect(safeUrl('not a url')).toBeNull();
    expect(safeUrl(42)).toBeNull();
  });
});

describe('readSources', () => {
  it('reads sources, chunks with web, and drops unsafe links', () => {
    expect(
      readSources({
        sources: [
          { uri: 'https://a.example/x', title: 'A' },
          { url: 'https://b.example/', title: '' },
          { uri: 'javascript:alert(1)', title: 'evil' }
        ]
      })
    ).toEqual([
      { uri: 'https://a.example/x', title: 'A' },
      { uri: 'https://b.example/', title: 'b.example' }
    ]);
    expect(
      readSources({
        grounding_chunks: [{ web: { uri: 'https://c.example/', title: 'C' } }]
      })
    ).toEqual([{ uri: 'https://c.example/', title: 'C' }]);
  });
});

describe('ConversationState', () => {
  it('thinks while the server says so, at most until the turn ends', () => {
    const state = new ConversationState();
    expect(state.handle(ev('thinking', { turn: 1, active: true }))).toBe(true);
    expect(state.thinking).toBe(true);
    // the model may speak while it thinks in the background
    state.handle(ev('transcript', { role: 'model', text: 'Hel', turn: 1 }));
    expect(state.thinking).toBe(true);
    state.handle(ev('thinking', { turn: 1, active: false }));
    expect(state.thinking).toBe(false);
    state.handle(ev('thinking', { turn: 2, active: true }));
    state.handle(ev('turn_complete', { turn: 2, reason: null }));
    expect(state.thinking).toBe(false);
    state.handle(ev('thinking', { turn: 3, active: true }));
    state.handle(ev('interrupted', { turn: 3 }));
    expect(state.thinking).toBe(false);
    state.handle(ev('interaction_status', { status: 'IN_PROGRESS' }));
    expect(state.thinking).toBe(true);
    state.handle(ev('interaction_status', { status: 'IDLE' }));
    expect(state.thinking).toBe(false);
  });

  it('keeps the sources of each turn, once each', () => {
    const state = new ConversationState();
    const source = { uri: 'https://w.example/', title: 'Weather' };
    state.handle(ev('grounding', { turn: 3, sources: [source] }));
    state.handle(ev('grounding', { turn: 3, sources: [source] }));
    expect(state.sources(3)).toEqual([source]);
    expect(state.sources(2)).toEqual([]);
    expect(state.sources(null)).toEqual([]);
  });

  it("reads the server's per-turn and per-session usage", () => {
    const state = new ConversationState();
    state.handle(
      ev('usage', {
        turn: 1,
        usage: {
          turn: { tokens: { total: 120 }, cost_usd: 0.0012 },
          session: { tokens: { total: 300 }, cost_usd: 0.003 }
        }
      })
    );
    expect(state.turnUsage(1)).toEqual({ tokens: 120, costUsd: 0.0012 });
    expect(state.session).toEqual({ tokens: 300, costUsd: 0.003 });
  });

  it('reads the typed usage event (turn_usage, session_usage)', () => {
    const state = new ConversationState();
    const totals = (total: number, cost: number) => ({
      tokens: {
        prompt: { text: 0, audio: total, image: 0 },
        response: { text: 0, audio: 0, image: 0 },
        thinking: 0,
        tool_use: 0,
        total
      },
      cost_usd: cost
    });
    state.handle(
      ev('usage', {
        turn: 4,
        usage: { totalTokenCount: 999 },
        delta: totals(10, 0).tokens,
        turn_usage: totals(70, 0.0007),
        session_usage: totals(900, 0.009)
      })
    );
    expect(state.turnUsage(4)).toEqual({ tokens: 70, costUsd: 0.0007 });
    expect(state.session).toEqual({ tokens: 900, costUsd: 0.009 });
  });

  it('reads totals beside the usage', () => {
    const state = new ConversationState();
    state.handle(
      ev('usage', {
        turn: 2,
        usage: { total_token_count: 50 },
        turn_usage: { total: 50, cost: 0.5 },
        totals: { total: 80, cost: 0.8 }
      })
    );
    expect(state.turnUsage(2)).toEqual({ tokens: 50, costUsd: 0.5 });
    expect(state.session).toEqual({ tokens: 80, costUsd: 0.8 });
  });

  it('turns cumulative raw reports into per-turn deltas (never sums them)', () => {
    const state = new ConversationState();
    state.handle(ev('usage', { turn: 1, usage: { total_token_count: 100 } }));
    state.handle(ev('usage', { turn: 1, usage: { total_token_count: 150 } }));
    expect(state.turnUsage(1)).toEqual({ tokens: 150, costUsd: null });
    state.handle(ev('usage', { turn: 2, usage: { total_token_count: 230 } }));
    expect(state.turnUsage(2)).toEqual({ tokens: 80, costUsd: null });
    expect(state.session).toEqual({ tokens: 230, costUsd: null });
    // a new connection counts from zero
    state.handle(ev('usage', { turn: 3, usage: { total_token_count: 20 } }));
    expect(state.turnUsage(3)).toEqual({ tokens: 20, costUsd: null });
    expect(state.session?.tokens).toBe(250);
  });

  it('writes sources and usage as Markdown', () => {
    const state = new ConversationState();
    state.handle(
      ev('grounding', {
        turn: 1,
        sources: [{ uri: 'https://w.example/a', title: 'Rain [today]' }]
      })
    );
    state.handle(
      ev('usage', {
        turn: 1,
        usage: {
          turn: { tokens: { total: 1234 }, cost_usd: 0.0123 },
          session: { tokens: { total: 1234 }, cost_usd: 0.0123 }
        }
      })
    );
    expect(state.markdown(1)).toEqual([
      'Sources:',
      '- [Rain \\[today\\]](<https://w.example/a>)',
      '*Turn 1: 1,234 tokens, about $0.0123.*'
    ]);
    expect(state.markdown(2)).toEqual([]);
    expect(state.sessionMarkdown()).toEqual([
      '*Session: 1,234 tokens, about $0.0123.*'
    ]);
    state.clear();
    expect(state.markdown(1)).toEqual([]);
    expect(state.session).toBeNull();
  });

  it('formats costs', () => {
    expect(formatCost(0)).toBe('0');
    expect(formatCost(0.00001)).toBe('<0.0001');
    expect(formatCost(0.01234)).toBe('0.012');
    expect(formatCost(2.5)).toBe('2.50');
  });
});
