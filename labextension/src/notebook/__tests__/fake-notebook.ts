/** A notebook in memory, for the tools' tests: cells, runs the test finishes, a kernel. */
import { Evaluation, IModelMark, INewCell, INotebookAccess } from '../access';
import { ICellJson, IOutputJson } from '../summary';

export interface IFakeRun {
  index: number;
  finish(outputs: IOutputJson[], count?: number): void;
}

export function codeCell(
  source: string,
  outputs: IOutputJson[] = [],
  id = `cell-${source.length}-${Math.random().toString(36).slice(2, 8)}`
): ICellJson {
  return {
    id,
    cell_type: 'code',
    source,
    execution_count: outputs.length ? 1 : null,
    outputs,
    metadata: {}
  };
}

export class FakeNotebook implements INotebookAccess {
  path = 'analysis.ipynb';
  kernel = { name: 'python3', status: 'idle' };
  activeIndex = 0;
  readonly runs: IFakeRun[] = [];
  readonly revealed: number[] = [];
  readonly expressions: string[] = [];
  interrupts = 0;
  evaluation: Evaluation = { status: 'ok', text: "'{}'" };
  private inserted = 0;

  constructor(public list: ICellJson[] = []) {}

  cells(): ICellJson[] {
    return this.list.map(cell => ({ ...cell }));
  }

  insertCell(index: number, cell: INewCell): string {
    const id = `inserted-${++this.inserted}`;
    this.list.splice(index, 0, {
      id,
      cell_type: cell.cell_type,
      source: cell.source,
      execution_count: null,
      outputs: [],
      metadata: { gemini_live: cell.mark }
    });
    return id;
  }

  replaceSource(index: number, source: string, mark: IModelMark): void {
    const cell = this.list[index];
    this.list[index] = {
      ...cell,
      source,
      metadata: { ...cell.metadata, gemini_live: mark }
    };
  }

  runCell(index: number): Promise<void> {
    return new Promise(resolve => {
      this.runs.push({
        index,
        finish: (outputs, count = 7) => {
          this.list[index] = {
            ...this.list[index],
            outputs,
            execution_count: count
          };
          resolve();
        }
      });
    });
  }

  async interrupt(): Promise<void> {
    this.interrupts++;
    const run = this.runs[this.runs.length - 1];
    run?.finish([
      {
        output_type: 'error',
        ename: 'KeyboardInterrupt',
        evalue: '',
        traceback: ['KeyboardInterrupt']
      }
    ]);
  }

  async evaluate(expression: string): Promise<Evaluation> {
    this.expressions.push(expression);
    return this.evaluation;
  }

  reveal(index: number): void {
    this.revealed.push(index);
  }
}

/** Lets pending promise callbacks run. */
export async function flush(times = 5): Promise<void> {
  for (let i = 0; i < times; i++) {
    await Promise.resolve();
  }
}
