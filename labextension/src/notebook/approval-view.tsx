/**
 * The approval prompt in the panel: what the model wants to do (the proposed cell, a
 * diff for a replacement, "Run cell N"), Approve and Decline, and Enter / Escape while
 * the panel has focus (not while typing in one of its fields).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ApprovalQueue, IApprovalRequest } from './approval';
import { lineDiff } from './line-diff';

/** The root of the panel, where the keys are listened to. */
const PANEL_SELECTOR = '.jp-GeminiLive';

export interface IApprovalViewProps {
  queue: ApprovalQueue;
  trans: TranslationBundle;
}

export function ApprovalView(props: IApprovalViewProps): JSX.Element {
  return (
    <UseSignal signal={props.queue.changed}>
      {() =>
        props.queue.current ? (
          <ApprovalPrompt {...props} request={props.queue.current} />
        ) : null
      }
    </UseSignal>
  );
}

function ApprovalPrompt(
  props: IApprovalViewProps & { request: IApprovalRequest }
): JSX.Element {
  const { queue, trans, request } = props;
  const node = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const root = node.current?.closest(PANEL_SELECTOR) ?? node.current;
    if (!root) {
      return;
    }
    const onKey = (event: Event) => {
      const key = (event as KeyboardEvent).key;
      if (
        (key !== 'Enter' && key !== 'Escape') ||
        typing(event.target) ||
        // Enter on a focused button is that button's click.
        (key === 'Enter' && (event.target as HTMLElement)?.tagName === 'BUTTON')
      ) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      if (key === 'Enter') {
        queue.approve();
      } else {
        queue.decline();
      }
    };
    root.addEventListener('keydown', onKey);
    return () => root.removeEventListener('keydown', onKey);
  }, [queue, request]);
  const waiting = queue.size - 1;
  return (
    <div
      ref={node}
      className="jp-GeminiLive-approval"
      data-testid="gemini-live-approval"
      data-kind={request.kind}
      data-call-id={request.callId}
      role="group"
      aria-label={trans.__('Gemini asks for approval')}
    >
      <div className="jp-GeminiLive-approvalTitle">{title(request, trans)}</div>
      <ProposedSource request={request} />
      <div className="jp-GeminiLive-approvalActions">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          data-testid="gemini-live-approve"
          onClick={() => queue.approve()}
        >
          {trans.__('Approve')}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          data-testid="gemini-live-decline"
          onClick={() => queue.decline()}
        >
          {trans.__('Decline')}
        </button>
        {waiting > 0 && (
          <span className="jp-GeminiLive-approvalMore">
            {trans._n('%1 more waiting', '%1 more waiting', waiting)}
          </span>
        )}
      </div>
    </div>
  );
}

function title(request: IApprovalRequest, trans: TranslationBundle): string {
  // Cells are numbered from 1 on screen; the model's indexes start at 0.
  const n = request.index + 1;
  switch (request.kind) {
    case 'insert_cell':
      return request.cellType === 'markdown'
        ? trans.__('Insert a Markdown cell as cell %1', n)
        : trans.__('Insert a code cell as cell %1', n);
    case 'replace_cell':
      return trans.__('Replace cell %1', n);
    case 'run_cell':
      return trans.__('Run cell %1', n);
  }
}

function ProposedSource({
  request
}: {
  request: IApprovalRequest;
}): JSX.Element {
  if (request.kind !== 'replace_cell') {
    return <pre className="jp-GeminiLive-approvalSource">{request.source}</pre>;
  }
  return (
    <pre className="jp-GeminiLive-approvalSource jp-GeminiLive-diff">
      {lineDiff(request.previous ?? '', request.source).map((line, at) => (
        <div
          key={at}
          className={`jp-GeminiLive-diffLine jp-mod-${line.kind}`}
          data-diff={line.kind}
        >
          {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
          {line.text}
        </div>
      ))}
    </pre>
  );
}

function typing(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return (
    !!element &&
    (element.tagName === 'TEXTAREA' ||
      element.tagName === 'INPUT' ||
      element.tagName === 'SELECT' ||
      element.isContentEditable)
  );
}
