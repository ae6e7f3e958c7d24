/**
 * The little the notebook tools need of a notebook, so that they run against a fake in
 * jest and against a NotebookPanel in JupyterLab and Notebook 7 (panel-access.ts).
 */
import { ICellJson } from './summary';

/** The metadata `gemini_live` of a cell the model wrote. */
export interface IModelMark {
  by: 'model';
  session: string;
  tool: 'insert_cell' | 'replace_cell';
}

export interface INewCell {
  cell_type: 'code' | 'markdown';
  source: string;
  mark: IModelMark;
}

/** A kernel's answer to a silent expression: its text/plain, or its error. */
export type Evaluation =
  | { status: 'ok'; text: string }
  | { status: 'error'; ename: string; evalue: string };

export interface INotebookAccess {
  readonly path: string;
  readonly kernel: { name: string; status: string };
  /** The active cell's index; -1 when none. */
  readonly activeIndex: number;
  cells(): ICellJson[];
  /** Inserts at `index` (0..length); returns the new cell's id. */
  insertCell(index: number, cell: INewCell): string;
  replaceSource(index: number, source: string, mark: IModelMark): void;
  /** Runs the cell with the notebook's kernel; settles when it has finished. */
  runCell(index: number): Promise<void>;
  /** Interrupts the kernel (a cell the model started runs too long). */
  interrupt(): Promise<void>;
  /** Evaluates an expression silently (no output, no history). */
  evaluate(expression: string): Promise<Evaluation>;
  /** Scrolls the cell into view. */
  reveal(index: number): void;
}
