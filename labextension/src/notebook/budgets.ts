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
  read_notebook_chars: number;
  /** A cell's source in read_notebook. */
  read_notebook_source_chars: number;
  /** A cell's source in read_cell. */
  read_cell_source_chars: number;
  /** The text of a cell's outputs, all together. */
  output_text_chars: number;
  traceback_lines: number;
  variable_repr_chars: number;
  images_per_response: number;
  image_bytes: number;
  image_long_side_px: number;
  /** run_cell's wait before `still_running`. */
  run_wait_s: number;
  /** run_cell's wait where the model takes async calls (answered WHEN_IDLE). */
  run_wait_async_s: number;
}

export const BUDGETS: IBudgets = {
  read_notebook_chars: 16000,
  read_notebook_source_chars: 2000,
  read_cell_source_chars: 8000,
  output_text_chars: 2000,
  traceback_lines: 8,
  variable_repr_chars: 2000,
  images_per_response: 2,
  image_bytes: 1024 * 1024,
  image_long_side_px: 1024,
  run_wait_s: 30,
  run_wait_async_s: 600
};
