import { Signal } from '@lumino/signaling';

import { IToolResponse, ServerEvent } from '../../stream';
import { ApprovalQueue } from '../approval';
import { BUDGETS, NOTEBOOK_TOOL_NAMES } from '../budgets';
import { MODEL_CELL_CLASS, syncMarks } from '../marks';
import type { ILiveSessionInfo } from '../../tokens';
import { NotebookToolRunner } from '../runner';
import { NotebookTools } from '../tools';
import { codeCell, FakeNotebook, flush } from './fake-notebook';
import declarations from '../../__tests__/notebook-tools.json';

function setup(session: ILiveSessionInfo | null) {
  const notebook = new FakeNotebook([codeCell('x = 1', [], 'c0')]);
  const approvals = new ApprovalQueue();
  const sent: IToolResponse[] = [];
  const host = {
    session,
    sendToolResponse: (response: IToolResponse) => {
      sent.push(response);
      return true;
    }
  };
  const tools = new NotebookTools({
    notebook: () => notebook,
    approvals,
    confirm: () => true,
    scaler: { fit: async s => ({ mime_type: 'image/png', data: s.data }) }
  });
  const runner = new NotebookToolRunner(host, tools, () =>
    approvals.withdrawAll()
  );
  return { notebook, approvals, sent, host, runner };
}

const call = (name: string, id = 'call-1', args = {}): ServerEvent => ({
  type: 'tool_call',
  id,
  name,
  args,
  turn: 1
});

const notebookSession = { id: 's-1', notebook: true, asyncTools: false };

describe('NotebookToolRunner', () => {
  it('answers notebook tool calls of a notebook session', async () => {
    const { runner, sent } = setup(notebookSession);
    runner.handle(call('read_notebook'));
    await flush(10);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      type: 'tool_response',
      id: 'call-1',
      name: 'read_notebook'
    });
    expect((sent[0].response.cells as unknown[]).length).toBe(1);
  });

  it('leaves other names to the kernel', async () => {
    const { runner, sent } = setup(notebookSession);
    runner.handle(call('get_weather'));
    await flush(10);
    expect(sent).toEqual([]);
  });

  it('answers nothing for a session without the notebook tools', async () => {
    const { runner, sent } = setup({ ...notebookSession, notebook: false });
    runner.handle(call('read_notebook'));
    await flush(10);
    expect(sent).toEqual([]);
  });

  it('withdraws a pending approval on tool_call_cancelled and sends nothing', async () => {
    const { runner, sent, approvals, notebook } = setup(notebookSession);
    runner.handle(call('insert_cell', 'call-7', { source: 'y = 2' }));
    await flush();
    expect(approvals.current?.callId).toBe('call-7');
    runner.handle({ type: 'tool_call_cancelled', ids: ['call-7'], turn: 1 });
    await flush(10);
    expect(approvals.current).toBeNull();
    expect(sent).toEqual([]);
    expect(notebook.list).toHaveLength(1);
  });

  it('interrupts a running cell on tool_call_cancelled', async () => {
    const { runner, sent, approvals, notebook } = setup(notebookSession);
    runner.handle(call('run_cell', 'call-8', { index: 0 }));
    await flush();
    approvals.approve();
    await flush();
    expect(notebook.runs).toHaveLength(1);
    runner.handle({ type: 'tool_call_cancelled', ids: ['call-8'], turn: 1 });
    await flush(10);
    expect(notebook.interrupts).toBe(1);
    expect(sent).toEqual([]);
  });

  it('answers a decline as a declined error', async () => {
    const { runner, sent, approvals } = setup(notebookSession);
    runner.handle(call('run_cell', 'call-9', { index: 0 }));
    await flush();
    approvals.decline();
    await flush(10);
    expect(sent[0].response.error).toMatch(/declined/);
  });

  it('withdraws what waits when the session ends', async () => {
    const { runner, host, approvals } = setup(notebookSession);
    runner.handle(call('insert_cell', 'call-1', { source: 'z' }));
    await flush();
    host.session = null;
    runner.sync();
    expect(approvals.current).toBeNull();
  });

  it('follows a signal of server events as the plugin wires it', async () => {
    const events = new Signal<object, ServerEvent>({});
    const { runner, sent } = setup(notebookSession);
    events.connect((_, event) => runner.handle(event));
    events.emit(call('read_cell', 'call-2', { index: 0 }));
    await flush(10);
    expect(sent[0].response.cell).toMatchObject({ source: 'x = 1' });
  });
});

describe('the tool names', () => {
  it('are exactly those the server declares', () => {
    const declared = (declarations as { tools: { name: string }[] }).tools.map(
      tool => tool.name
    );
    expect([...NOTEBOOK_TOOL_NAMES].sort()).toEqual([...declared].sort());
  });
});

describe('syncMarks', () => {
  it('marks the cells whose metadata says the model wrote them', () => {
    const cell = (meta: unknown) => {
      const classes = new Set<string>();
      return {
        classes,
        model: { getMetadata: () => meta },
        toggleClass: (name: string, force?: boolean) => {
          force ? classes.add(name) : classes.delete(name);
          return !!force;
        }
      };
    };
    const cells = [cell({ by: 'model' }), cell(undefined)];
    syncMarks(cells);
    expect(cells.map(c => c.classes.has(MODEL_CELL_CLASS))).toEqual([
      true,
      false
    ]);
  });
});

describe('the budgets', () => {
  it('are those the server exports', () => {
    expect(BUDGETS).toEqual((declarations as { budgets: unknown }).budgets);
  });
});
