/**
 * The six notebook tools, run against the notebook the user is looking at. Each call
 * is answered with a JSON response (an `{error}` for bad arguments or a decline), the
 * images of the outputs it returns, and for a long run where the model takes async
 * calls, `scheduling: WHEN_IDLE`. A call withdrawn by the model is answered with
 * nothing (null): the server would refuse the answer.
 */
import { IModelMark, INotebookAccess } from './access';
import { ApprovalQueue, IApprovalRequest } from './approval';
import { BUDGETS, IBudgets, NotebookToolName } from './budgets';
import { canvasScaler, IImageScaler, IToolImage, toolImages } from './images';
import {
  ICellJson,
  summarizeCell,
  summarizeNotebook,
  summarizeOutputs
} from './summary';

export interface IToolCall {
  id: string;
  name: NotebookToolName;
  args: Record<string, unknown>;
}

export interface IToolAnswer {
  response: Record<string, unknown>;
  images?: IToolImage[];
  scheduling?: 'WHEN_IDLE';
}

export interface ICallContext {
  sessionId: string;
  /** The model takes async calls: a run is answered when it ends (WHEN_IDLE). */
  asyncRun: boolean;
}

export interface INotebookToolsOptions {
  /** The notebook the user is looking at; null when none. */
  notebook: () => INotebookAccess | null;
  approvals: ApprovalQueue;
  /** Ask before the model changes or runs anything (`confirmNotebookChanges`). */
  confirm: () => boolean;
  scaler?: IImageScaler;
  budgets?: IBudgets;
}

/** A proposed source longer than this is refused (a cell, not a file). */
export const MAX_SOURCE_CHARS = 100_000;

/** A dotted Python name; nothing else reaches the kernel. */
const DOTTED_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const DUNDER = /^__\w+__$/;

/** Answered as `{error}` to the model. */
class ToolError extends Error {}

/** The call was withdrawn: nothing is answered. */
class Withdrawn extends Error {}

export class NotebookTools {
  private readonly budgets: IBudgets;
  private readonly scaler: IImageScaler;
  private readonly inFlight = new Set<string>();
  private readonly cancelled = new Set<string>();
  private readonly running = new Map<string, INotebookAccess>();

  constructor(private readonly options: INotebookToolsOptions) {
    this.budgets = options.budgets ?? BUDGETS;
    this.scaler = options.scaler ?? canvasScaler;
  }

  /** The answer to a call, or null when it was withdrawn meanwhile. */
  async call(
    call: IToolCall,
    context: ICallContext
  ): Promise<IToolAnswer | null> {
    this.inFlight.add(call.id);
    try {
      const answer = await this.dispatch(call, context);
      return this.cancelled.has(call.id) ? null : answer;
    } catch (error) {
      if (error instanceof Withdrawn || this.cancelled.has(call.id)) {
        return null;
      }
      const message =
        error instanceof ToolError
          ? error.message
          : `the notebook tool failed: ${(error as Error).message}`;
      return { response: { error: message } };
    } finally {
      this.inFlight.delete(call.id);
      this.cancelled.delete(call.id);
      this.running.delete(call.id);
    }
  }

  /**
   * The model withdrew these calls (the user talked over it): a pending approval goes
   * away unanswered, a cell one of them started is interrupted.
   */
  cancel(ids: string[]): void {
    for (const id of ids) {
      if (!this.inFlight.has(id)) {
        continue;
      }
      this.cancelled.add(id);
      this.options.approvals.withdraw(id);
      const notebook = this.running.get(id);
      if (notebook) {
        void notebook
          .interrupt()
          .catch(error => console.warn('gemini-live:', error));
      }
    }
  }

  private dispatch(
    call: IToolCall,
    context: ICallContext
  ): Promise<IToolAnswer> {
    const notebook = this.options.notebook();
    if (!notebook) {
      throw new ToolError('No notebook is open. Ask the user to open one.');
    }
    const args = call.args ?? {};
    switch (call.name) {
      case 'read_notebook':
        return Promise.resolve(this.readNotebook(notebook));
      case 'read_cell':
        return this.readCell(notebook, args);
      case 'insert_cell':
        return this.insertCell(notebook, args, call.id, context);
      case 'replace_cell':
        return this.replaceCell(notebook, args, call.id, context);
      case 'run_cell':
        return this.runCell(notebook, args, call.id, context);
      case 'inspect_variable':
        return this.inspectVariable(notebook, args);
    }
  }

  private readNotebook(notebook: INotebookAccess): IToolAnswer {
    const summary = summarizeNotebook(
      {
        path: notebook.path,
        kernel: notebook.kernel,
        active_cell: notebook.activeIndex
      },
      notebook.cells(),
      this.budgets
    );
    return { response: { ...summary } };
  }

  private async readCell(
    notebook: INotebookAccess,
    args: Record<string, unknown>
  ): Promise<IToolAnswer> {
    const cells = notebook.cells();
    const index =
      args.index === undefined
        ? activeIndex(notebook, cells)
        : indexArg(args, 'index', 0, cells.length - 1);
    const cell = cells[index];
    const summary = summarizeCell(
      cell,
      index,
      this.budgets.read_cell_source_chars,
      this.budgets
    );
    const images = await toolImages(cell.outputs, this.scaler, this.budgets);
    return withImages({ cell: summary }, images);
  }

  private async insertCell(
    notebook: INotebookAccess,
    args: Record<string, unknown>,
    callId: string,
    context: ICallContext
  ): Promise<IToolAnswer> {
    const source = sourceArg(args);
    const cellType = args.cell_type ?? 'code';
    if (cellType !== 'code' && cellType !== 'markdown') {
      throw new ToolError('cell_type: expected "code" or "markdown"');
    }
    const count = notebook.cells().length;
    let index: number;
    if (args.index !== undefined) {
      index = indexArg(args, 'index', 0, count);
    } else if (args.after !== undefined) {
      index = indexArg(args, 'after', 0, count - 1) + 1;
    } else {
      index = notebook.activeIndex >= 0 ? notebook.activeIndex + 1 : count;
    }
    await this.approve(
      { callId, kind: 'insert_cell', index, source, cellType },
      `inserting the ${cellType} cell`
    );
    // The user may have edited the notebook while deciding.
    index = Math.min(index, notebook.cells().length);
    const id = notebook.insertCell(index, {
      cell_type: cellType,
      source,
      mark: mark(context, 'insert_cell')
    });
    notebook.reveal(index);
    return { response: { index, cell_id: id } };
  }

  private async replaceCell(
    notebook: INotebookAccess,
    args: Record<string, unknown>,
    callId: string,
    context: ICallContext
  ): Promise<IToolAnswer> {
    const cells = notebook.cells();
    const index = indexArg(args, 'index', 0, cells.length - 1);
    const source = sourceArg(args);
    const { id, source: previous, cell_type } = cells[index];
    await this.approve(
      {
        callId,
        kind: 'replace_cell',
        index,
        source,
        previous,
        cellType: cell_type
      },
      `replacing cell ${index}`
    );
    const now = findCell(notebook, id, index);
    notebook.replaceSource(now, source, mark(context, 'replace_cell'));
    notebook.reveal(now);
    return { response: { index: now } };
  }

  private async runCell(
    notebook: INotebookAccess,
    args: Record<string, unknown>,
    callId: string,
    context: ICallContext
  ): Promise<IToolAnswer> {
    const cells = notebook.cells();
    const index = indexArg(args, 'index', 0, cells.length - 1);
    const { id, source, cell_type } = cells[index];
    await this.approve(
      { callId, kind: 'run_cell', index, source, cellType: cell_type },
      `running cell ${index}`
    );
    const at = findCell(notebook, id, index);
    this.running.set(callId, notebook);
    const waitS = context.asyncRun
      ? this.budgets.run_wait_async_s
      : this.budgets.run_wait_s;
    const finished = await settlesWithin(notebook.runCell(at), waitS * 1000);
    const cell = notebook.cells()[findCell(notebook, id, at)];
    const outputs = summarizeOutputs(cell.outputs, this.budgets);
    const status = !finished
      ? 'still_running'
      : cell.outputs.some(output => output.output_type === 'error')
        ? 'error'
        : 'ok';
    const images = finished
      ? await toolImages(cell.outputs, this.scaler, this.budgets)
      : [];
    const answer = withImages(
      {
        index: at,
        status,
        execution_count: finished ? cell.execution_count : null,
        outputs
      },
      images
    );
    return context.asyncRun ? { ...answer, scheduling: 'WHEN_IDLE' } : answer;
  }

  private async inspectVariable(
    notebook: INotebookAccess,
    args: Record<string, unknown>
  ): Promise<IToolAnswer> {
    const name = args.name;
    if (typeof name !== 'string' || !validName(name)) {
      throw new ToolError(
        'name: expected a variable name such as df or model.coef_ (letters, digits, _ and dots)'
      );
    }
    const result = await notebook.evaluate(
      inspectExpression(name, this.budgets.variable_repr_chars)
    );
    if (result.status === 'error') {
      throw new ToolError(`${result.ename}: ${result.evalue}`);
    }
    const facts = parsePythonStr(result.text);
    const {
      repr,
      repr_len: length,
      ...rest
    } = facts as {
      repr: string;
      repr_len: number;
    } & Record<string, unknown>;
    const cut =
      length > repr.length
        ? `${repr}… [cut ${length - repr.length} chars]`
        : repr;
    const response: Record<string, unknown> = {
      name,
      ...dropNulls(rest),
      repr: cut
    };
    return { response };
  }

  private async approve(
    request: IApprovalRequest,
    what: string
  ): Promise<void> {
    if (!this.options.confirm()) {
      return;
    }
    const decision = await this.options.approvals.request(request);
    if (decision === 'declined') {
      throw new ToolError(
        `The user declined ${what}. Do not retry unless the user asks.`
      );
    }
    if (decision === 'withdrawn') {
      throw new Withdrawn();
    }
  }
}

export function validName(name: string): boolean {
  if (name.length > 200 || !DOTTED_NAME.test(name)) {
    return false;
  }
  // Attribute access only, and no dunder attributes (a way into the interpreter).
  return name.split('.').every((part, at) => at === 0 || !DUNDER.test(part));
}

/**
 * One Python expression for `user_expressions`: the facts of the value as a JSON
 * string. `name` is a validated dotted name, so it is the only code of the user's here.
 */
export function inspectExpression(name: string, reprChars: number): string {
  return (
    "(lambda v, r: __import__('json').dumps({" +
    "'type': type(v).__qualname__ if type(v).__module__ == 'builtins' " +
    "else type(v).__module__ + '.' + type(v).__qualname__, " +
    `'repr': r[:${reprChars}], 'repr_len': len(r), ` +
    "'shape': [int(n) if isinstance(n, int) else str(n) for n in v.shape] " +
    "if isinstance(getattr(v, 'shape', None), tuple) else None, " +
    "'dtype': str(v.dtype) if hasattr(v, 'dtype') else None, " +
    "'columns': [str(c) for c in list(v.columns)[:100]] if hasattr(v, 'columns') else None, " +
    "'length': len(v) if hasattr(type(v), '__len__') else None}, default=str))" +
    `(${name}, repr(${name}))`
  );
}

/**
 * The text/plain of a Python str holding JSON: `'...'` with `\\` and `\'` escaped
 * (JSON from json.dumps has double quotes and no raw control characters).
 */
export function parsePythonStr(text: string): Record<string, unknown> {
  const match = /^'([\s\S]*)'$/.exec(text.trim());
  if (!match) {
    throw new ToolError('the kernel answered something that is not a summary');
  }
  return JSON.parse(match[1].replace(/\\(['\\])/g, '$1'));
}

function dropNulls(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).filter(([, v]) => v !== null)
  );
}

function mark(context: ICallContext, tool: IModelMark['tool']): IModelMark {
  return { by: 'model', session: context.sessionId, tool };
}

function withImages(
  response: Record<string, unknown>,
  images: IToolImage[]
): IToolAnswer {
  return images.length ? { response, images } : { response };
}

function indexArg(
  args: Record<string, unknown>,
  key: string,
  min: number,
  max: number
): number {
  const value = args[key];
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < min ||
    value > max
  ) {
    throw new ToolError(
      max < min
        ? `${key}: the notebook has no cells`
        : `${key}: expected an integer from ${min} to ${max}`
    );
  }
  return value;
}

function sourceArg(args: Record<string, unknown>): string {
  const source = args.source;
  if (typeof source !== 'string') {
    throw new ToolError("source: expected the cell's text");
  }
  if (source.length > MAX_SOURCE_CHARS) {
    throw new ToolError(`source: longer than ${MAX_SOURCE_CHARS} characters`);
  }
  return source;
}

function activeIndex(notebook: INotebookAccess, cells: ICellJson[]): number {
  const index = notebook.activeIndex;
  if (index < 0 || index >= cells.length) {
    throw new ToolError('index: no cell is active; give an index');
  }
  return index;
}

/** The cell's index now (the user may have moved it); an error when it is gone. */
function findCell(notebook: INotebookAccess, id: string, was: number): number {
  const index = notebook.cells().findIndex(cell => cell.id === id);
  if (index < 0) {
    throw new ToolError(`cell ${was} was deleted meanwhile`);
  }
  return index;
}

/** True when `promise` settles within `ms` (its rejection is thrown). */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>(resolve => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
