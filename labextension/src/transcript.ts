/**
 * The panel's transcript: one row per role and turn. The server's `transcript` events
 * carry the CUMULATIVE text of that role in that turn, so a row is replaced in place,
 * never appended to.
 */
import { ISignal, Signal } from '@lumino/signaling';

export type Role = 'user' | 'model' | 'tool';

export interface ITranscriptRow {
  /** Stable key: `${turn}:${role}` (tool calls add their id). */
  key: string;
  role: Role;
  turn: number;
  text: string;
  final: boolean;
  interrupted: boolean;
  /** Date.now() when the row appeared; for the saved Markdown. */
  time: number;
}

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
    final: boolean
  ): void {
    const row = this.row(`${turn}:${role}`, role, turn);
    row.text = text;
    row.final = row.final || final;
    this._changed.emit();
  }

  /** A text turn typed by the user shows at once; the server's echo updates it. */
  addTyped(turn: number, text: string): void {
    this.update('user', turn, text, true);
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

  /** The conversation as Markdown, for "Save transcript". */
  toMarkdown(title: string): string {
    const lines = [`# ${title}`, ''];
    for (const row of this.rows) {
      if (!row.text) {
        continue;
      }
      const who =
        row.role === 'user'
          ? 'You'
          : row.role === 'model'
            ? 'Gemini'
            : 'Tool call';
      const note = row.interrupted ? ' _(interrupted)_' : '';
      const text = row.role === 'tool' ? `\`${row.text}\`` : row.text.trim();
      lines.push(`**${who}:** ${text}${note}`, '');
    }
    return lines.join('\n');
  }

  private row(key: string, role: Role, turn: number): ITranscriptRow {
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
