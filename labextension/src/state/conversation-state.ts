/**
 * What the conversation is doing beyond its words: whether the model is thinking,
 * whether the service hears the user (`voice_activity`), the web sources a reply was
 * grounded on, why a turn ended abnormally (`turn_complete.reason`), and the tokens (and
 * estimated cost) of each turn and of the session. Fed with the server's events, or with
 * the entries of `GET transcript` for the turns before the panel joined (the same figures,
 * kept in the same maps); read by the panel's view and by the saved Markdown. Events are read tolerantly (a field missing or of another shape is
 * ignored), so an older or newer server never breaks the panel.
 */
import { ISignal, Signal } from '@lumino/signaling';

/** A web page a reply was grounded on (only http(s) addresses are kept). */
export interface ISource {
  uri: string;
  title: string;
}

/** Tokens and the server's estimated cost (USD; null when it gave none). */
export interface IUsageFigures {
  tokens: number;
  costUsd: number | null;
}

/** A server event as it came, read field by field. */
export type LooseEvent = { type: string } & Record<string, unknown>;

/** `uri` when it is an http(s) URL, else null (no javascript:, data:, file: links). */
export function safeUrl(uri: unknown): string | null {
  if (typeof uri !== 'string' || !uri) {
    return null;
  }
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' || url.protocol === 'https:'
      ? url.href
      : null;
  } catch {
    return null;
  }
}

/** A reason longer than this is cut (the service's are short enum names). */
const MAX_REASON_CHARS = 200;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

/** Tokens and cost of a usage object in any of the shapes the server has used. */
export function readFigures(value: unknown): IUsageFigures | null {
  if (!isRecord(value)) {
    return null;
  }
  const tokensField = value.tokens;
  const tokens =
    (isRecord(tokensField) ? num(tokensField.total) : num(tokensField)) ??
    num(value.total) ??
    num(value.total_tokens) ??
    num(value.total_token_count) ??
    num(value.totalTokenCount);
  if (tokens === null) {
    return null;
  }
  const cost = num(value.cost_usd) ?? num(value.cost) ?? num(value.costUsd);
  return { tokens, costUsd: cost };
}

/** The sources of a `grounding` event: `sources`, `chunks` or `grounding_chunks`. */
export function readSources(event: Record<string, unknown>): ISource[] {
  const list =
    event.sources ?? event.chunks ?? event.grounding_chunks ?? event.links;
  if (!Array.isArray(list)) {
    return [];
  }
  const sources: ISource[] = [];
  for (const item of list) {
    const entry = isRecord(item) && isRecord(item.web) ? item.web : item;
    if (!isRecord(entry)) {
      continue;
    }
    const uri = safeUrl(entry.uri ?? entry.url);
    if (!uri) {
      continue;
    }
    const title =
      typeof entry.title === 'string' && entry.title.trim()
        ? entry.title.trim()
        : new URL(uri).hostname;
    sources.push({ uri, title });
  }
  return sources;
}

export class ConversationState {
  private _thinking = false;
  private _hearing = false;
  private readonly reasonsByTurn = new Map<number, string>();
  private readonly sourcesByTurn = new Map<number, ISource[]>();
  private readonly usageByTurn = new Map<number, IUsageFigures>();
  private _session: IUsageFigures | null = null;
  /** Raw cumulative reports only: the session total when the current turn began. */
  private rawTurnStart = new Map<number, number>();
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The model is thinking, as the server says (`thinking {active}`), until the turn ends. */
  get thinking(): boolean {
    return this._thinking;
  }

  /** The service hears the user's voice (`voice_activity` start, until its end). */
  get hearing(): boolean {
    return this._hearing;
  }

  get session(): IUsageFigures | null {
    return this._session;
  }

  /** The service's reason when `turn` ended abnormally (raw, e.g. GENERATED_CONTENT_SAFETY). */
  reason(turn: number | null): string | null {
    return turn === null ? null : (this.reasonsByTurn.get(turn) ?? null);
  }

  sources(turn: number | null): ISource[] {
    return turn === null ? [] : (this.sourcesByTurn.get(turn) ?? []);
  }

  turnUsage(turn: number | null): IUsageFigures | null {
    return turn === null ? null : (this.usageByTurn.get(turn) ?? null);
  }

  /** A new conversation. */
  clear(): void {
    this._thinking = false;
    this._hearing = false;
    this.reasonsByTurn.clear();
    this.sourcesByTurn.clear();
    this.usageByTurn.clear();
    this.rawTurnStart.clear();
    this._session = null;
    this.emit();
  }

  /** Take one server event; true when it changed what is shown. */
  handle(event: LooseEvent): boolean {
    switch (event.type) {
      case 'thinking':
      case 'interaction_status':
        return this.setThinking(isThinking(event));
      case 'grounding':
        return this.addSources(event);
      case 'usage':
        return this.addUsage(event);
      case 'voice_activity':
        return this.setHearing(event.activity === 'start');
      case 'turn_complete':
        return this.addReason(event) || this.setThinking(false);
      case 'interrupted':
        return this.setThinking(false);
      default:
        return false;
    }
  }

  /**
   * The turns before the panel joined: each entry's `usage`, `reason` and `sources` (on a
   * turn's last entry) as the live events would have set them, and the session's total
   * (`stats.usage` of `GET sessions/{id}`).
   */
  loadHistory(entries: readonly object[], sessionUsage?: unknown): void {
    for (const item of entries) {
      const entry = item as Record<string, unknown>;
      const turn = num(entry.turn);
      if (turn === null) {
        continue;
      }
      const usage = readFigures(entry.usage);
      if (usage) {
        this.usageByTurn.set(turn, usage);
      }
      this.addReason({ type: 'turn_complete', turn, reason: entry.reason });
      this.addSources({ type: 'grounding', turn, sources: entry.sources });
    }
    this._session = readFigures(sessionUsage) ?? this._session;
    this.emit();
  }

  /**
   * Markdown paragraphs to add under a turn: its sources and its usage, as the server's
   * `transcript?format=md` writes them (`Sources:` and a list of links, then
   * `*Turn N: 1,234 tokens, about $0.0012.*`).
   */
  markdown(turn: number | null): string[] {
    const lines: string[] = [];
    const reason = this.reason(turn);
    if (reason) {
      lines.push(`_The turn ended early: ${escapeMarkdown(reason)}._`);
    }
    const sources = this.sources(turn);
    if (sources.length) {
      const links = sources.map(
        source => `- [${escapeMarkdown(source.title)}](<${source.uri}>)`
      );
      lines.push('Sources:', links.join('\n'));
    }
    const usage = this.turnUsage(turn);
    if (usage && turn !== null) {
      lines.push(`*Turn ${turn}: ${usageText(usage)}.*`);
    }
    return lines;
  }

  /** A line for the end of the saved Markdown: the session's usage. */
  sessionMarkdown(): string[] {
    return this._session ? [`*Session: ${usageText(this._session)}.*`] : [];
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private setThinking(thinking: boolean): boolean {
    if (thinking === this._thinking) {
      return false;
    }
    this._thinking = thinking;
    this.emit();
    return true;
  }

  private setHearing(hearing: boolean): boolean {
    if (hearing === this._hearing) {
      return false;
    }
    this._hearing = hearing;
    this.emit();
    return true;
  }

  /** A turn that ended abnormally: its reason (a normal end has none). */
  private addReason(event: LooseEvent): boolean {
    const turn = num(event.turn);
    const reason = typeof event.reason === 'string' ? event.reason.trim() : '';
    if (turn === null || !reason || this.reasonsByTurn.get(turn) === reason) {
      return false;
    }
    this.reasonsByTurn.set(turn, reason.slice(0, MAX_REASON_CHARS));
    this._thinking = false;
    this.emit();
    return true;
  }

  private addSources(event: LooseEvent): boolean {
    const turn = num(event.turn);
    const sources = readSources(event);
    if (turn === null || sources.length === 0) {
      return false;
    }
    const known = this.sourcesByTurn.get(turn) ?? [];
    const fresh = sources.filter(s => !known.some(k => k.uri === s.uri));
    if (fresh.length === 0) {
      return false;
    }
    this.sourcesByTurn.set(turn, [...known, ...fresh]);
    this.emit();
    return true;
  }

  /**
   * `usage {usage, turn, delta, turn_usage, session_usage}`: the server's per-turn and
   * per-session figures (`{tokens: {total, ...}, cost_usd}`) when it sends them; else `usage` is the service's cumulative report of the connection, and a
   * turn is what it added since the last turn.
   */
  private addUsage(event: LooseEvent): boolean {
    const turn = num(event.turn);
    const usage = isRecord(event.usage) ? event.usage : {};
    const turnFigures =
      readFigures(event.turn_usage) ?? readFigures(usage.turn);
    const sessionFigures =
      readFigures(event.session_usage) ??
      readFigures(usage.session) ??
      readFigures(event.totals);
    if (turnFigures || sessionFigures) {
      if (turn !== null && turnFigures) {
        this.usageByTurn.set(turn, turnFigures);
      }
      if (sessionFigures) {
        this._session = sessionFigures;
      }
      this.emit();
      return true;
    }
    const raw = readFigures(usage);
    if (!raw || turn === null) {
      return false;
    }
    const previous = this._session?.tokens ?? 0;
    // A smaller report is a new connection counting from zero again.
    const total = raw.tokens < previous ? previous + raw.tokens : raw.tokens;
    if (!this.rawTurnStart.has(turn)) {
      this.rawTurnStart.set(turn, previous);
    }
    const start = this.rawTurnStart.get(turn) ?? 0;
    this.usageByTurn.set(turn, { tokens: total - start, costUsd: null });
    this._session = { tokens: total, costUsd: null };
    this.emit();
    return true;
  }

  private emit(): void {
    this._changed.emit();
  }
}

function isThinking(event: LooseEvent): boolean {
  for (const key of ['thinking', 'active']) {
    if (typeof event[key] === 'boolean') {
      return event[key] as boolean;
    }
  }
  const status = event.status ?? event.interaction_status ?? event.state;
  if (typeof status === 'string') {
    return /progress|thinking/i.test(status);
  }
  return true;
}

/** `1,234 tokens, about $0.0123` (English: the saved file's language). */
export function usageText(usage: IUsageFigures): string {
  const tokens = `${usage.tokens.toLocaleString('en-US')} tokens`;
  return usage.costUsd === null
    ? tokens
    : `${tokens}, about $${usage.costUsd.toFixed(4)}`;
}

export function formatCost(usd: number): string {
  if (usd <= 0) {
    return '0';
  }
  if (usd < 0.0001) {
    return '<0.0001';
  }
  return usd >= 1 ? usd.toFixed(2) : String(Number(usd.toPrecision(2)));
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\[\]])/g, '\\$1');
}
