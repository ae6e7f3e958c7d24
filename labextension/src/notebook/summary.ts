/**
 * What the model reads of a notebook: cells and outputs as small JSON summaries, each
 * text cut to its budget (and saying so), errors as name, message and the last lines
 * of the traceback, images noted (their pixels travel separately, see images.ts).
 * Pure functions over nbformat-shaped JSON, so they are tested without a notebook.
 */
import { BUDGETS, IBudgets } from './budgets';

/** An output as nbformat stores it (the fields the summaries read). */
export interface IOutputJson {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** A cell as nbformat stores it, with its id. */
export interface ICellJson {
  id: string;
  cell_type: string;
  source: string;
  execution_count: number | null;
  outputs: IOutputJson[];
  metadata: Record<string, unknown>;
}

export interface IOutputSummary {
  type: 'text' | 'error' | 'image' | 'html' | 'other';
  text?: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  mime_type?: string;
}

export interface ICellSummary {
  index: number;
  id: string;
  cell_type: string;
  source: string;
  execution_count: number | null;
  outputs: IOutputSummary[];
  by_model: boolean;
}

/** The metadata key of cells the model wrote (an interface users rely on). */
export const MODEL_CELL_KEY = 'gemini_live';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/svg+xml'];

// CSI sequences (colours, cursor moves) and the two-character escapes.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[@-_]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** `text` within `max` characters; a cut says how much went. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) {
    return text;
  }
  return `${text.slice(0, Math.max(0, max))}… [cut ${text.length - Math.max(0, max)} chars]`;
}

export function joinText(value: unknown): string {
  if (Array.isArray(value)) {
    return value.join('');
  }
  return typeof value === 'string' ? value : '';
}

/** The last `lines` lines of a traceback, without terminal colours. */
export function lastTracebackLines(
  traceback: string[] | undefined,
  lines: number
): string[] {
  const all = stripAnsi((traceback ?? []).join('\n')).split('\n');
  return all.filter(line => line.trim() !== '').slice(-lines);
}

/**
 * A cell's outputs, their text sharing one budget: once it is spent, later text is
 * cut to nothing (and says how much that was).
 */
export function summarizeOutputs(
  outputs: IOutputJson[],
  budgets: IBudgets = BUDGETS
): IOutputSummary[] {
  let left = budgets.output_text_chars;
  const spend = (text: string): string => {
    const cut = cutText(stripAnsi(text), left);
    left = Math.max(0, left - text.length);
    return cut;
  };
  return outputs.map(output => {
    switch (output.output_type) {
      case 'stream':
        return { type: 'text', text: spend(joinText(output.text)) };
      case 'error':
        return {
          type: 'error',
          ename: output.ename ?? '',
          evalue: cutText(
            stripAnsi(output.evalue ?? ''),
            budgets.variable_repr_chars
          ),
          traceback: lastTracebackLines(
            output.traceback,
            budgets.traceback_lines
          )
        };
      case 'execute_result':
      case 'display_data':
        return summarizeData(output.data ?? {}, spend);
      default:
        return { type: 'other' };
    }
  });
}

function summarizeData(
  data: Record<string, unknown>,
  spend: (text: string) => string
): IOutputSummary {
  const image = IMAGE_TYPES.find(mime => mime in data);
  if (image) {
    return { type: 'image', mime_type: image };
  }
  if ('text/plain' in data) {
    return { type: 'text', text: spend(joinText(data['text/plain'])) };
  }
  if ('text/html' in data) {
    return { type: 'html', text: spend(joinText(data['text/html'])) };
  }
  return { type: 'other', mime_type: Object.keys(data)[0] };
}

export function isModelCell(cell: Pick<ICellJson, 'metadata'>): boolean {
  return !!cell.metadata?.[MODEL_CELL_KEY];
}

/** One cell; `sourceChars` is the source budget of the tool that asks. */
export function summarizeCell(
  cell: ICellJson,
  index: number,
  sourceChars: number,
  budgets: IBudgets = BUDGETS
): ICellSummary {
  return {
    index,
    id: cell.id,
    cell_type: cell.cell_type,
    source: cutText(cell.source, sourceChars),
    execution_count: cell.execution_count ?? null,
    outputs: summarizeOutputs(cell.outputs ?? [], budgets),
    by_model: isModelCell(cell)
  };
}

export interface INotebookSummary {
  path: string;
  kernel: { name: string; status: string };
  active_cell: number;
  cells: ICellSummary[];
  truncated: boolean;
}

/**
 * The whole notebook within `read_notebook_chars` of JSON: cells in order, in full while
 * they fit, then without outputs and with a short source, then none (`truncated`).
 */
export function summarizeNotebook(
  head: Omit<INotebookSummary, 'cells' | 'truncated'>,
  cells: ICellJson[],
  budgets: IBudgets = BUDGETS
): INotebookSummary {
  const result: INotebookSummary = { ...head, cells: [], truncated: false };
  let size = JSON.stringify(result).length;
  for (const [index, cell] of cells.entries()) {
    const full = summarizeCell(
      cell,
      index,
      budgets.read_notebook_source_chars,
      budgets
    );
    const brief: ICellSummary = {
      ...full,
      source: cutText(cell.source, 200),
      outputs: []
    };
    const fitting = [full, brief].find(
      summary =>
        size + JSON.stringify(summary).length + 1 <= budgets.read_notebook_chars
    );
    if (!fitting) {
      result.truncated = true;
      break;
    }
    if (fitting === brief) {
      result.truncated = true;
    }
    result.cells.push(fitting);
    size += JSON.stringify(fitting).length + 1;
  }
  return result;
}
