/**
 * The panel's transcript: one row per role and turn. The server's `transcript` events
 * carry the CUMULATIVE text of that role in that turn, so a row is replaced in place,
 * never appended to. Typed text shows at once as a row of no turn, until the server
 * says which turn took it (`text_accepted`, or the REST text route's answer).
 */
import { ISignal, Signal } from '@lumino/signaling';

export type Role = 'user' | 'model' | 'tool';

/** Typed text the server has not put in a turn: on its way, or refused. */
export type TypedState = 'pending' | 'refused';

export interface ITranscriptRow {
  /** Stable key: `${turn}:${role}` (tool calls add their id); `typed:${id}` for typed text. */
  key: string;
  role: Role;
  /** The server's turn; null for typed text not (yet) in one. */
  turn: number | null;
  /** Only on typed text that is in no turn. */
  typed?: TypedState;
  text: string;
  final: boolean;
  interrupted: boolean;
  /** Date.now() when the row appeared; shown on hover. */
  time: number;
  /** A user row that holds typed text (not only speech). */
  typedText?: boolean;
}

/** One turn of the conversation, for the chat view and the notebook cells. */
export interface ITurnGroup {
  /** The server's turn; null for typed text not (yet) in one. */
  turn: number | null;
  rows: ITranscriptRow[];
}

/** The names of the roles in Markdown (the server's `?format=md` uses the same). */
export const SPEAKERS: Record<Role, string> = {
  user: 'You',
  model: 'Gemini',
  tool: 'Tool call'
};

/** One row as a Markdown paragraph, the server's `transcript.to_markdown` structure. */
export function rowMarkdown(row: ITranscriptRow): string {
  const note = row.interrupted ? ' _(interrupted)_' : '';
  const text = row.role === 'tool' ? `\`${row.text}\`` : row.text.trim();
  return `**${SPEAKERS[row.role]}:** ${text}${note}`;
}

/** The rows of one turn as Markdown: `## Turn N`, then a paragraph per row. */
export function turnMarkdown(group: ITurnGroup): string {
  const rows = group.rows.filter(row => row.text.trim());
  const heading = group.turn === null ? [] : [`## Turn ${group.turn}`];
  return [...heading, ...rows.map(rowMarkdown)].join('\n\n');
}

/** More Markdown paragraphs for the end of a turn (its sources, its usage). */
export type TurnExtras = (turn: number | null) => string[];

export class TranscriptModel {
  private readonly rows: ITranscriptRow[] = [];
  private readonly index = new Map<string, ITranscriptRow>();
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get items(): readonly ITranscriptRow[] {
    return this.rows;
  }

  /** Apply a `transcript` event: create the row or replace its text. */
  update(
    role: 'user' | 'model',
    turn: number,
    text: string,
    final: boolean,
    interrupted = false
  ): void {
    const row = this.row(`${turn}:${role}`, role, turn);
    row.text = text;
    row.final = row.final || final;
    row.interrupted = row.interrupted || interrupted;
    this._changed.emit();
  }

  /** Typed text, shown at once in no turn; `id` is the one sent with it. */
  addTyped(id: string, text: string): void {
    const row = this.row(`typed:${id}`, 'user', null);
    row.text = text;
    row.final = true;
    row.typed = 'pending';
    this._changed.emit();
  }

  /**
   * The server put typed text `id` in `turn`: it moves into the user's row of that turn
   * (whose next `transcript` event carries it anyway), so it shows once. Text typed
   * elsewhere (another client, the kernel) has no row here: its events show it.
   */
  acceptTyped(id: string | null, turn: number): void {
    const typed = id === null ? undefined : this.index.get(`typed:${id}`);
    if (!typed) {
      return;
    }
    this.remove(typed);
    const row = this.row(`${turn}:user`, 'user', turn);
    if (!row.text.includes(typed.text)) {
      row.text = row.text ? `${row.text} ${typed.text}` : typed.text;
    }
    row.final = true;
    row.typedText = true;
    this._changed.emit();
  }

  /** The server did not take typed text `id` (the request failed). */
  refuseTyped(id: string): void {
    this.refuse(this.index.get(`typed:${id}`));
  }

  /**
   * An inbox too full for a frame (`busy`): the server answers frames in order, so the
   * oldest typed text still waiting is the refused one. Should a `text_accepted` follow
   * after all, `acceptTyped` still places it.
   */
  refuseOldestTyped(): void {
    this.refuse(this.rows.find(row => row.typed === 'pending'));
  }

  /** Mark the model's row of `turn` as cut off; everything of that turn is final now. */
  interrupt(turn: number): void {
    const model = this.row(`${turn}:model`, 'model', turn);
    model.interrupted = true;
    this.settle(turn);
  }

  /** `turn_complete`: rows of that turn that never got `final` become final. */
  settle(turn: number): void {
    for (const row of this.rows) {
      if (row.turn === turn) {
        row.final = true;
      }
    }
    this._changed.emit();
  }

  addToolCall(turn: number, id: string, name: string, args: unknown): void {
    const row = this.row(`${turn}:tool:${id}`, 'tool', turn);
    row.text = `${name}(${JSON.stringify(args)})`;
    row.final = true;
    this._changed.emit();
  }

  cancelToolCalls(ids: string[]): void {
    for (const row of this.rows) {
      if (
        row.role === 'tool' &&
        ids.some(id => row.key.endsWith(`:tool:${id}`))
      ) {
        row.interrupted = true;
      }
    }
    this._changed.emit();
  }

  clear(): void {
    this.rows.length = 0;
    this.index.clear();
    this._changed.emit();
  }

  /** Rows grouped by turn, in the order the turns started. */
  turns(): ITurnGroup[] {
    const groups: ITurnGroup[] = [];
    const byTurn = new Map<number, ITurnGroup>();
    for (const row of this.rows) {
      if (row.turn === null) {
        groups.push({ turn: null, rows: [row] });
        continue;
      }
      let group = byTurn.get(row.turn);
      if (!group) {
        group = { turn: row.turn, rows: [] };
        byTurn.set(row.turn, group);
        groups.push(group);
      }
      group.rows.push(row);
    }
    return groups;
  }

  /**
   * The conversation as Markdown, for "Save transcript": the structure of the server's
   * `GET transcript?format=md` (a title, `## Turn N`, `**You:**` / `**Gemini:**`).
   */
  toMarkdown(
    title: string,
    extras?: TurnExtras,
    trailer: string[] = []
  ): string {
    return (
      [`# ${title}`, ...this.toCells(extras), ...trailer].join('\n\n') + '\n'
    );
  }

  /** One Markdown cell per turn, for "Insert into notebook" (empty turns left out). */
  toCells(extras?: TurnExtras): string[] {
    return this.turns()
      .filter(group => group.rows.some(row => row.text.trim()))
      .map(group =>
        [turnMarkdown(group), ...(extras?.(group.turn) ?? [])].join('\n\n')
      );
  }

  private refuse(row: ITranscriptRow | undefined): void {
    if (row) {
      row.typed = 'refused';
      this._changed.emit();
    }
  }

  private remove(row: ITranscriptRow): void {
    this.index.delete(row.key);
    this.rows.splice(this.rows.indexOf(row), 1);
  }

  private row(key: string, role: Role, turn: number | null): ITranscriptRow {
    let row = this.index.get(key);
    if (!row) {
      row = {
        key,
        role,
        turn,
        text: '',
        final: false,
        interrupted: false,
        time: Date.now()
      };
      this.index.set(key, row);
      this.rows.push(row);
    }
    return row;
  }
}
