import { BUDGETS } from '../budgets';
import {
  cutText,
  IOutputJson,
  stripAnsi,
  summarizeCell,
  summarizeNotebook,
  summarizeOutputs
} from '../summary';
import { codeCell } from './fake-notebook';

describe('cutText', () => {
  it('keeps short text and says how much a cut removed', () => {
    expect(cutText('hello', 5)).toBe('hello');
    expect(cutText('x'.repeat(12345 + 10), 10)).toBe(
      `${'x'.repeat(10)}… [cut 12345 chars]`
    );
  });
});

describe('summarizeOutputs', () => {
  it('gives stream and result text, cut to one budget per cell', () => {
    const long = 'a'.repeat(BUDGETS.output_text_chars + 500);
    const outputs: IOutputJson[] = [
      { output_type: 'stream', name: 'stdout', text: ['row 1\n', 'row 2\n'] },
      { output_type: 'execute_result', data: { 'text/plain': long } },
      { output_type: 'stream', name: 'stdout', text: 'after the budget' }
    ];
    const [first, second, third] = summarizeOutputs(outputs);
    expect(first).toEqual({ type: 'text', text: 'row 1\nrow 2\n' });
    expect(second.text).toMatch(/… \[cut \d+ chars\]$/);
    expect(second.text!.length).toBeLessThan(BUDGETS.output_text_chars + 40);
    expect(third.text).toBe('… [cut 16 chars]');
  });

  it('gives an error as name, message and the last traceback lines without colours', () => {
    const traceback = Array.from(
      { length: 20 },
      (_, i) => `\u001b[0;31mline ${i}\u001b[0m`
    );
    traceback.push('\u001b[0;31mZeroDivisionError\u001b[0m: division by zero');
    const [error] = summarizeOutputs([
      {
        output_type: 'error',
        ename: 'ZeroDivisionError',
        evalue: 'division by zero',
        traceback
      }
    ]);
    expect(error.type).toBe('error');
    expect(error.ename).toBe('ZeroDivisionError');
    expect(error.evalue).toBe('division by zero');
    expect(error.traceback).toHaveLength(BUDGETS.traceback_lines);
    expect(error.traceback![7]).toBe('ZeroDivisionError: division by zero');
    expect(error.traceback!.join('\n')).not.toContain('\u001b');
  });

  it('notes images (not their bytes), HTML and other data', () => {
    const summaries = summarizeOutputs([
      {
        output_type: 'display_data',
        data: { 'image/png': 'iVBOR', 'text/plain': '<Figure size 640x480>' }
      },
      { output_type: 'display_data', data: { 'image/svg+xml': '<svg/>' } },
      { output_type: 'display_data', data: { 'text/html': '<b>hi</b>' } },
      { output_type: 'display_data', data: { 'application/vnd.x': {} } }
    ]);
    expect(summaries).toEqual([
      { type: 'image', mime_type: 'image/png' },
      { type: 'image', mime_type: 'image/svg+xml' },
      { type: 'html', text: '<b>hi</b>' },
      { type: 'other', mime_type: 'application/vnd.x' }
    ]);
  });

  it('strips terminal colours from stream text', () => {
    expect(stripAnsi('\u001b[1;32mok\u001b[0m')).toBe('ok');
  });
});

describe('summarizeCell', () => {
  it('cuts the source to the budget it is given and says who wrote it', () => {
    const cell = codeCell('y'.repeat(3000), [], 'c1');
    cell.metadata = { gemini_live: { by: 'model' } };
    const summary = summarizeCell(cell, 4, 2000);
    expect(summary.index).toBe(4);
    expect(summary.id).toBe('c1');
    expect(summary.source).toBe(`${'y'.repeat(2000)}… [cut 1000 chars]`);
    expect(summary.by_model).toBe(true);
    expect(summarizeCell(codeCell('x'), 0, 10).by_model).toBe(false);
  });
});

describe('summarizeNotebook', () => {
  const head = {
    path: 'a.ipynb',
    kernel: { name: 'python3', status: 'idle' },
    active_cell: 0
  };

  it('holds every cell of a small notebook, not truncated', () => {
    const summary = summarizeNotebook(head, [codeCell('a = 1'), codeCell('a')]);
    expect(summary.cells.map(cell => cell.source)).toEqual(['a = 1', 'a']);
    expect(summary.truncated).toBe(false);
  });

  it('stays within its budget and says it was truncated', () => {
    const cells = Array.from({ length: 40 }, (_, i) =>
      codeCell(`# cell ${i}\n${'z'.repeat(1900)}`, [
        { output_type: 'stream', name: 'stdout', text: 'o'.repeat(1500) }
      ])
    );
    const summary = summarizeNotebook(head, cells);
    expect(JSON.stringify(summary).length).toBeLessThanOrEqual(
      BUDGETS.read_notebook_chars
    );
    expect(summary.truncated).toBe(true);
    expect(summary.cells[0].outputs).toHaveLength(1);
    expect(summary.cells.length).toBeGreaterThan(3);
  });
});
