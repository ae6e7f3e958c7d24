import { ApprovalQueue } from '../approval';
import { IBudgets, BUDGETS, NotebookToolName } from '../budgets';
import { IImageScaler } from '../images';
import {
  ICallContext,
  inspectExpression,
  NotebookTools,
  validName
} from '../tools';
import { codeCell, FakeNotebook, flush } from './fake-notebook';

const context: ICallContext = { sessionId: 's-1', asyncRun: false };
const passThrough: IImageScaler = {
  fit: async source => ({ mime_type: 'image/png', data: source.data })
};

function setup(
  options: { confirm?: boolean; budgets?: IBudgets; open?: boolean } = {}
) {
  const notebook = new FakeNotebook([
    codeCell('import pandas as pd\ndf = pd.DataFrame({"a": [1, 2]})', [], 'c0'),
    codeCell('df.head()', [], 'c1')
  ]);
  const approvals = new ApprovalQueue();
  const tools = new NotebookTools({
    notebook: () => (options.open === false ? null : notebook),
    approvals,
    confirm: () => options.confirm ?? true,
    scaler: passThrough,
    budgets: options.budgets
  });
  let n = 0;
  const call = (
    name: NotebookToolName,
    args: Record<string, unknown> = {},
    ctx: ICallContext = context
  ) => tools.call({ id: `call-${++n}`, name, args }, ctx);
  return { notebook, approvals, tools, call };
}

describe('read_notebook and read_cell', () => {
  it('reads the notebook with its path, kernel and active cell', async () => {
    const { call } = setup();
    const answer = await call('read_notebook');
    expect(answer!.response).toMatchObject({
      path: 'analysis.ipynb',
      kernel: { name: 'python3', status: 'idle' },
      active_cell: 0,
      truncated: false
    });
    const cells = answer!.response.cells as { source: string }[];
    expect(cells.map(cell => cell.source)).toEqual([
      'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2]})',
      'df.head()'
    ]);
  });

  it('reads the active cell by default, with its images', async () => {
    const { call, notebook } = setup();
    notebook.activeIndex = 1;
    notebook.list[1].outputs = [
      { output_type: 'display_data', data: { 'image/png': 'iVBORw0' } }
    ];
    const answer = await call('read_cell');
    expect(answer!.response.cell).toMatchObject({
      index: 1,
      source: 'df.head()'
    });
    expect(answer!.images).toEqual([
      { mime_type: 'image/png', data: 'iVBORw0' }
    ]);
  });

  it('answers an error naming the field for an index out of range', async () => {
    const { call } = setup();
    const answer = await call('read_cell', { index: 9 });
    expect(answer!.response.error).toBe(
      'index: expected an integer from 0 to 1'
    );
  });

  it('says when no notebook is open', async () => {
    const { call } = setup({ open: false });
    const answer = await call('read_notebook');
    expect(answer!.response.error).toMatch(/No notebook is open/);
  });
});

describe('insert_cell', () => {
  it('waits for approval, then inserts after the cell it names, marked', async () => {
    const { call, approvals, notebook } = setup();
    const pending = call('insert_cell', { source: 'df.describe()', after: 0 });
    await flush();
    expect(approvals.current).toMatchObject({
      kind: 'insert_cell',
      index: 1,
      source: 'df.describe()'
    });
    expect(notebook.list).toHaveLength(2);
    approvals.approve();
    const answer = await pending;
    expect(answer!.response).toEqual({ index: 1, cell_id: 'inserted-1' });
    expect(notebook.list[1].source).toBe('df.describe()');
    expect(notebook.list[1].metadata.gemini_live).toEqual({
      by: 'model',
      session: 's-1',
      tool: 'insert_cell'
    });
    expect(notebook.revealed).toEqual([1]);
  });

  it('inserts at an index, or after the active cell when given neither', async () => {
    const { call, notebook } = setup({ confirm: false });
    await call('insert_cell', { source: 'first', index: 0 });
    expect(notebook.list[0].source).toBe('first');
    notebook.activeIndex = 2;
    await call('insert_cell', { source: '# Notes', cell_type: 'markdown' });
    expect(notebook.list[3]).toMatchObject({
      source: '# Notes',
      cell_type: 'markdown'
    });
  });

  it('answers a decline with an error that says so, and changes nothing', async () => {
    const { call, approvals, notebook } = setup();
    const pending = call('insert_cell', { source: 'rm -rf' });
    await flush();
    approvals.decline();
    const answer = await pending;
    expect(answer!.response.error).toContain('declined');
    expect(notebook.list).toHaveLength(2);
  });

  it('refuses a bad cell type', async () => {
    const { call } = setup({ confirm: false });
    const answer = await call('insert_cell', { source: 'x', cell_type: 'raw' });
    expect(answer!.response.error).toMatch(/^cell_type:/);
  });
});

describe('replace_cell', () => {
  it('shows the old source with the new one, then replaces and marks', async () => {
    const { call, approvals, notebook } = setup();
    const pending = call('replace_cell', { index: 1, source: 'df.tail()' });
    await flush();
    expect(approvals.current).toMatchObject({
      kind: 'replace_cell',
      previous: 'df.head()',
      source: 'df.tail()'
    });
    approvals.approve();
    expect((await pending)!.response).toEqual({ index: 1 });
    expect(notebook.list[1].source).toBe('df.tail()');
    expect(notebook.list[1].metadata.gemini_live).toMatchObject({
      tool: 'replace_cell'
    });
  });
});

describe('run_cell', () => {
  it('runs once approved and answers with the outputs and images', async () => {
    const { call, approvals, notebook } = setup();
    const pending = call('run_cell', { index: 1 });
    await flush();
    expect(approvals.current).toMatchObject({ kind: 'run_cell', index: 1 });
    expect(notebook.runs).toHaveLength(0);
    approvals.approve();
    await flush();
    notebook.runs[0].finish(
      [
        { output_type: 'execute_result', data: { 'text/plain': 'count 2.0' } },
        { output_type: 'display_data', data: { 'image/png': 'iVBORplot' } }
      ],
      3
    );
    const answer = await pending;
    expect(answer!.response).toEqual({
      index: 1,
      status: 'ok',
      execution_count: 3,
      outputs: [
        { type: 'text', text: 'count 2.0' },
        { type: 'image', mime_type: 'image/png' }
      ]
    });
    expect(answer!.images).toEqual([
      { mime_type: 'image/png', data: 'iVBORplot' }
    ]);
    expect(answer!.scheduling).toBeUndefined();
  });

  it('answers status error with the error when the cell raised', async () => {
    const { call, notebook } = setup({ confirm: false });
    const pending = call('run_cell', { index: 0 });
    await flush();
    notebook.runs[0].finish([
      {
        output_type: 'error',
        ename: 'NameError',
        evalue: "name 'pd' is not defined",
        traceback: []
      }
    ]);
    const answer = await pending;
    expect(answer!.response.status).toBe('error');
    expect(answer!.response.outputs).toEqual([
      {
        type: 'error',
        ename: 'NameError',
        evalue: "name 'pd' is not defined",
        traceback: []
      }
    ]);
  });

  it('answers still_running when the run outlasts the wait', async () => {
    const { call } = setup({
      confirm: false,
      budgets: { ...BUDGETS, run_wait_s: 0.01 }
    });
    const answer = await call('run_cell', { index: 0 });
    expect(answer!.response).toMatchObject({
      status: 'still_running',
      execution_count: null
    });
  });

  it('answers WHEN_IDLE after the run where the model takes async calls', async () => {
    const { call, notebook } = setup({ confirm: false });
    const pending = call(
      'run_cell',
      { index: 0 },
      { ...context, asyncRun: true }
    );
    await flush();
    notebook.runs[0].finish([]);
    expect((await pending)!.scheduling).toBe('WHEN_IDLE');
  });
});

describe('cancellation', () => {
  it('withdraws a pending approval: nothing changes, nothing is answered', async () => {
    const { call, approvals, tools, notebook } = setup();
    const pending = call('insert_cell', { source: 'x' });
    await flush();
    tools.cancel(['call-1']);
    expect(approvals.current).toBeNull();
    expect(await pending).toBeNull();
    expect(notebook.list).toHaveLength(2);
  });

  it('interrupts a cell the model started, and answers nothing', async () => {
    const { call, tools, notebook } = setup({ confirm: false });
    const pending = call('run_cell', { index: 0 });
    await flush();
    tools.cancel(['call-1']);
    expect(notebook.interrupts).toBe(1);
    expect(await pending).toBeNull();
    expect(notebook.list[0].outputs[0].ename).toBe('KeyboardInterrupt');
  });

  it('leaves alone a call it does not run', async () => {
    const { tools, notebook } = setup();
    tools.cancel(['someone-elses']);
    expect(notebook.interrupts).toBe(0);
  });
});

describe('inspect_variable', () => {
  it('validates the name before anything reaches the kernel', async () => {
    const { call, notebook } = setup();
    for (const name of [
      '__import__("os").system("x")',
      'a; b',
      'df.__class__',
      '1x',
      7
    ]) {
      const answer = await call('inspect_variable', { name });
      expect(answer!.response.error).toMatch(/^name:/);
    }
    expect(notebook.expressions).toEqual([]);
    expect(validName('model.coef_')).toBe(true);
    expect(validName('__name__')).toBe(true);
  });

  it('reads the facts the kernel gives and cuts the repr', async () => {
    const { call, notebook } = setup();
    const facts = {
      type: 'pandas.core.frame.DataFrame',
      repr: '   a\n0  1',
      repr_len: 5000,
      shape: [2, 1],
      dtype: null,
      columns: ['a'],
      length: 2
    };
    notebook.evaluation = {
      status: 'ok',
      text: `'${JSON.stringify(facts).replace(/\\/g, '\\\\')}'`
    };
    const answer = await call('inspect_variable', { name: 'df' });
    expect(notebook.expressions[0]).toBe(
      inspectExpression('df', BUDGETS.variable_repr_chars)
    );
    expect(answer!.response).toEqual({
      name: 'df',
      type: 'pandas.core.frame.DataFrame',
      shape: [2, 1],
      columns: ['a'],
      length: 2,
      repr: '   a\n0  1… [cut 4991 chars]'
    });
  });

  it('answers the kernel error', async () => {
    const { call, notebook } = setup();
    notebook.evaluation = {
      status: 'error',
      ename: 'NameError',
      evalue: "name 'nope' is not defined"
    };
    const answer = await call('inspect_variable', { name: 'nope' });
    expect(answer!.response.error).toBe(
      "NameError: name 'nope' is not defined"
    );
  });
});
