/**
 * The sidebar widget: the React view plus the DOM hooks browser tests rely on
 * (`data-testid="gemini-live-panel"`, `data-session-id`, `data-state`, `data-joined`
 * on the root), the push-to-talk key, and whether the panel is on screen.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { isTalkKey } from '../preferences';
import { LivePanelModel } from './panel-model';
import { PanelView } from './view';

/** Lumino's Message, without depending on @lumino/messaging for one type. */
type Message = Parameters<Widget['processMessage']>[0];

export class LivePanel extends ReactWidget {
  constructor(readonly model: LivePanelModel) {
    super();
    this.id = 'gemini-live-panel';
    this.addClass('jp-GeminiLive');
    this.node.dataset.testid = 'gemini-live-panel';
    model.changed.connect(this.syncRoot, this);
    this.syncRoot();
    document.addEventListener('keydown', this.onKey, true);
    document.addEventListener('keyup', this.onKey, true);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    document.removeEventListener('keydown', this.onKey, true);
    document.removeEventListener('keyup', this.onKey, true);
    this.model.changed.disconnect(this.syncRoot, this);
    super.dispose();
  }

  /** Joinable sessions are polled only while the panel can be seen. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.model.setVisible(this.isVisible);
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.setVisible(false);
    super.onBeforeDetach(msg);
  }

  protected render(): JSX.Element {
    return <PanelView model={this.model} />;
  }

  private syncRoot(): void {
    this.node.dataset.sessionId = this.model.sessionId ?? '';
    this.node.dataset.state = this.model.state;
    this.node.dataset.joined = String(this.model.joined);
  }

  /** Held key = talking; only while push-to-talk is on and a session is live. */
  private readonly onKey = (event: KeyboardEvent): void => {
    const c = this.model;
    if (
      !c.pushToTalk ||
      c.state !== 'live' ||
      !isTalkKey(event, c.prefs.pushToTalkKey)
    ) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    if (event.type === 'keydown' && !event.repeat) {
      c.setTalking(true);
    } else if (event.type === 'keyup') {
      c.setTalking(false);
    }
  };
}
