import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { until } from '../../panel/__tests__/fakes';
import { ApprovalQueue, Decision, MAX_PENDING_APPROVALS } from '../approval';
import { ApprovalView } from '../approval-view';
import { lineDiff } from '../line-diff';

const trans = nullTranslator.load('jupyter_gemini_live');

describe('ApprovalQueue', () => {
  it('answers requests in order: approve, decline, withdraw', async () => {
    const queue = new ApprovalQueue();
    const first = queue.request({
      callId: 'a',
      kind: 'run_cell',
      index: 0,
      source: ''
    });
    const second = queue.request({
      callId: 'b',
      kind: 'run_cell',
      index: 1,
      source: ''
    });
    const third = queue.request({
      callId: 'c',
      kind: 'run_cell',
      index: 2,
      source: ''
    });
    expect(queue.current?.callId).toBe('a');
    queue.approve();
    expect(queue.current?.callId).toBe('b');
    expect(queue.withdraw('c')).toBe(true);
    expect(queue.withdraw('c')).toBe(false);
    queue.decline();
    const decisions: Decision[] = await Promise.all([first, second, third]);
    expect(decisions).toEqual(['approved', 'declined', 'withdrawn']);
    expect(queue.current).toBeNull();
  });

  it('declines at once beyond its bound', async () => {
    const queue = new ApprovalQueue();
    for (let i = 0; i < MAX_PENDING_APPROVALS; i++) {
      void queue.request({
        callId: `${i}`,
        kind: 'run_cell',
        index: 0,
        source: ''
      });
    }
    expect(
      await queue.request({
        callId: 'x',
        kind: 'run_cell',
        index: 0,
        source: ''
      })
    ).toBe('declined');
    queue.withdrawAll();
    expect(queue.size).toBe(0);
  });
});

describe('ApprovalView', () => {
  let host: HTMLElement;
  let widget: Widget;
  let queue: ApprovalQueue;
  /** React commits on its own schedule. */
  const settle = () => new Promise(resolve => setTimeout(resolve, 20));

  beforeEach(async () => {
    host = document.createElement('div');
    host.className = 'jp-GeminiLive';
    host.innerHTML = '<input data-testid="composer"/>';
    document.body.appendChild(host);
    queue = new ApprovalQueue();
    widget = ReactWidget.create(<ApprovalView queue={queue} trans={trans} />);
    Widget.attach(widget, host);
    widget.update();
    await settle();
  });

  afterEach(() => {
    widget.dispose();
    host.remove();
  });

  const prompt = () =>
    host.querySelector('[data-testid="gemini-live-approval"]');
  const ask = async (request: Parameters<ApprovalQueue['request']>[0]) => {
    // Wrapped: an async function returning the promise would wait for the decision.
    const decision = { promise: queue.request(request) };
    // the prompt shows what the queue holds first (this request, or one before it)
    await until(
      () => prompt()?.getAttribute('data-call-id') === queue.current?.callId,
      'the approval prompt'
    );
    return decision;
  };
  const key = async (target: Element, name: string) => {
    target.dispatchEvent(
      new KeyboardEvent('keydown', { key: name, bubbles: true })
    );
    await settle();
  };

  it('shows nothing until asked, then the proposed cell and two buttons', async () => {
    expect(prompt()).toBeNull();
    const decision = await ask({
      callId: 'a',
      kind: 'insert_cell',
      index: 1,
      source: 'df.describe()',
      cellType: 'code'
    });
    expect(prompt()!.textContent).toContain('Insert a code cell as cell 2');
    expect(prompt()!.querySelector('pre')!.textContent).toBe('df.describe()');
    const buttons = Array.from(prompt()!.querySelectorAll('button')).map(
      b => b.textContent
    );
    expect(buttons).toEqual(['Approve', 'Decline']);
    (prompt()!.querySelector('button') as HTMLButtonElement).click();
    expect(await decision.promise).toBe('approved');
    await until(() => !prompt(), 'the prompt to go');
  });

  it('says "Run cell N" for a run and shows a diff for a replacement', async () => {
    await ask({
      callId: 'a',
      kind: 'run_cell',
      index: 2,
      source: 'plot()'
    });
    expect(prompt()!.textContent).toContain('Run cell 3');
    queue.approve();
    await ask({
      callId: 'b',
      kind: 'replace_cell',
      index: 0,
      source: 'a = 1\nb = 3',
      previous: 'a = 1\nb = 2'
    });
    const lines = Array.from(prompt()!.querySelectorAll('[data-diff]')).map(
      line => `${line.getAttribute('data-diff')}:${line.textContent}`
    );
    expect(lines).toEqual(['same:  a = 1', 'removed:- b = 2', 'added:+ b = 3']);
  });

  it('approves on Enter and declines on Escape within the panel, not while typing', async () => {
    const first = await ask({
      callId: 'a',
      kind: 'run_cell',
      index: 0,
      source: ''
    });
    await key(host.querySelector('[data-testid="composer"]')!, 'Enter');
    expect(queue.current?.callId).toBe('a');
    await key(prompt()!, 'Enter');
    expect(await first.promise).toBe('approved');
    const second = await ask({
      callId: 'b',
      kind: 'run_cell',
      index: 0,
      source: ''
    });
    await key(document.body, 'Escape');
    expect(queue.current?.callId).toBe('b');
    await key(prompt()!, 'Escape');
    expect(await second.promise).toBe('declined');
  });

  it('goes away when the call is withdrawn', async () => {
    const decision = await ask({
      callId: 'a',
      kind: 'run_cell',
      index: 0,
      source: ''
    });
    queue.withdraw('a');
    await until(() => !prompt(), 'the withdrawn prompt to go');
    expect(await decision.promise).toBe('withdrawn');
  });
});

describe('lineDiff', () => {
  it('keeps common lines and shows removals before additions', () => {
    expect(lineDiff('x\ny\nz', 'x\nY\nz\nw')).toEqual([
      { kind: 'same', text: 'x' },
      { kind: 'removed', text: 'y' },
      { kind: 'added', text: 'Y' },
      { kind: 'same', text: 'z' },
      { kind: 'added', text: 'w' }
    ]);
  });
});
