/** INotebookAccess over a JupyterLab (or Notebook 7) NotebookPanel. */
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { Evaluation, IModelMark, INewCell, INotebookAccess } from './access';
import { ICellJson, IOutputJson, joinText, MODEL_CELL_KEY } from './summary';

export class PanelNotebook implements INotebookAccess {
  constructor(private readonly panel: NotebookPanel) {}

  get path(): string {
    return this.panel.context.path;
  }

  get kernel(): { name: string; status: string } {
    const kernel = this.panel.sessionContext.session?.kernel;
    return {
      name: kernel?.name ?? this.panel.sessionContext.kernelDisplayName,
      status: kernel?.status ?? 'none'
    };
  }

  get activeIndex(): number {
    return this.panel.content.activeCellIndex;
  }

  cells(): ICellJson[] {
    const cells = this.panel.content.model?.sharedModel.cells ?? [];
    return cells.map(cell => {
      const json = cell.toJSON() as Record<string, unknown>;
      return {
        id: cell.id,
        cell_type: cell.cell_type,
        source: joinText(json.source),
        execution_count: (json.execution_count as number | null) ?? null,
        outputs: (json.outputs as IOutputJson[] | undefined) ?? [],
        metadata: (json.metadata as Record<string, unknown>) ?? {}
      };
    });
  }

  insertCell(index: number, cell: INewCell): string {
    const shared = this.sharedModel();
    const inserted = shared.insertCell(index, {
      cell_type: cell.cell_type,
      source: cell.source,
      metadata: { [MODEL_CELL_KEY]: { ...cell.mark } }
    });
    return inserted.id;
  }

  replaceSource(index: number, source: string, mark: IModelMark): void {
    const cell = this.sharedModel().getCell(index);
    cell.setSource(source);
    cell.setMetadata(MODEL_CELL_KEY, { ...mark });
  }

  async runCell(index: number): Promise<void> {
    const notebook = this.panel.content;
    // NotebookActions.run runs the selection: this cell alone.
    notebook.activeCellIndex = index;
    notebook.deselectAll();
    await NotebookActions.run(notebook, this.panel.sessionContext);
  }

  async interrupt(): Promise<void> {
    await this.panel.sessionContext.session?.kernel?.interrupt();
  }

  async evaluate(expression: string): Promise<Evaluation> {
    const kernel = this.panel.sessionContext.session?.kernel;
    if (!kernel) {
      return {
        status: 'error',
        ename: 'NoKernel',
        evalue: 'the notebook has no kernel'
      };
    }
    const future = kernel.requestExecute({
      code: '',
      silent: true,
      store_history: false,
      user_expressions: { value: expression }
    });
    const reply = await future.done;
    const content = reply.content as {
      user_expressions?: Record<string, Record<string, unknown>>;
    };
    const value = content.user_expressions?.value;
    if (!value || value.status !== 'ok') {
      return {
        status: 'error',
        ename: String(value?.ename ?? 'Error'),
        evalue: String(value?.evalue ?? 'no value')
      };
    }
    const data = (value.data ?? {}) as Record<string, unknown>;
    return { status: 'ok', text: joinText(data['text/plain']) };
  }

  reveal(index: number): void {
    const notebook = this.panel.content;
    const cell = notebook.widgets[index];
    if (cell) {
      void notebook.scrollToCell(cell).catch(() => undefined);
    }
  }

  private sharedModel() {
    const shared = this.panel.content.model?.sharedModel;
    if (!shared) {
      throw new Error('the notebook is not loaded');
    }
    return shared;
  }
}
