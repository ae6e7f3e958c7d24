/**
 * The notebook tools' names and budgets. The server owns them
 * (`jupyter_gemini_live/notebook_tools.py`); jest checks these against its export
 * (`__tests__/notebook-tools.json`), so a change there fails here until mirrored.
 */
export const NOTEBOOK_TOOL_NAMES = [
  'read_notebook',
  'read_cell',
  'insert_cell',
  'replace_cell',
  'run_cell',
  'inspect_variable'
] as const;

export type NotebookToolName = (typeof NOTEBOOK_TOOL_NAMES)[number];

export function isNotebookTool(name: string): name is NotebookToolName {
  return (NOTEBOOK_TOOL_NAMES as readonly string[]).includes(name);
}

export interface IBudgets {
  /** The whole read_notebook response, in characters of its JSON. */
  notebook_chars: number;
  /** A cell's source in read_notebook. */
  notebook_source_chars: number;
  /** A cell's source in read_cell. */
  cell_source_chars: number;
  /** The text of a cell's outputs, all together. */
  output_chars: number;
  traceback_lines: number;
  repr_chars: number;
  images_per_response: number;
  image_bytes: number;
  image_side_px: number;
  /** run_cell's wait before `still_running`. */
  run_wait_s: number;
  /** run_cell's wait where the model takes async calls (answered WHEN_IDLE). */
  run_wait_async_s: number;
}

export const BUDGETS: IBudgets = {
  notebook_chars: 16000,
  notebook_source_chars: 2000,
  cell_source_chars: 8000,
  output_chars: 2000,
  traceback_lines: 8,
  repr_chars: 2000,
  images_per_response: 2,
  image_bytes: 1024 * 1024,
  image_side_px: 1024,
  run_wait_s: 30,
  run_wait_async_s: 600
};
