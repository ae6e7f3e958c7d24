/**
 * Cells the model wrote carry `gemini_live` metadata (saved with the notebook); the
 * visual mark (`jp-GeminiLive-modelCell`) follows that metadata, so it comes back when
 * the notebook is reopened and goes when a user deletes the key.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { MODEL_CELL_KEY } from './summary';

export const MODEL_CELL_CLASS = 'jp-GeminiLive-modelCell';

/** The little of a cell widget the marks touch. */
export interface IMarkableCell {
  model: { getMetadata(key: string): unknown };
  toggleClass(name: string, force?: boolean): boolean;
}

export function syncMarks(cells: readonly IMarkableCell[]): void {
  for (const cell of cells) {
    cell.toggleClass(
      MODEL_CELL_CLASS,
      !!cell.model.getMetadata(MODEL_CELL_KEY)
    );
  }
}

/** Marks every notebook the tracker has, and those it gets. */
export function followMarks(tracker: INotebookTracker): void {
  tracker.forEach(watchNotebook);
  tracker.widgetAdded.connect((_, panel) => watchNotebook(panel));
}

function watchNotebook(panel: NotebookPanel): void {
  const notebook = panel.content;
  const watched = new WeakSet<object>();
  const update = () => {
    for (const cell of notebook.widgets) {
      if (!watched.has(cell.model)) {
        watched.add(cell.model);
        cell.model.metadataChanged.connect(update);
      }
    }
    syncMarks(notebook.widgets);
  };
  // Lumino connects a slot once however often it is connected.
  const follow = () => {
    notebook.model?.cells.changed.connect(update);
    update();
  };
  void panel.context.ready.then(follow);
  notebook.modelChanged.connect(follow);
}
