/**
 * The card a notebook shows for a Gemini Live session: how it was set up, its state as
 * the server has it now, and a button that makes the panel its microphone and speaker
 * (or leaves it). DOM hooks for browser tests: the root has
 * `data-testid="gemini-live-inline"`, `data-session-id` and `data-state`; the button
 * has `data-testid="gemini-live-inline-talk"`.
 */
import { IRenderMime } from '@jupyterlab/rendermime';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import * as api from '../api';
import { ISessionCardData, parseCardData, SESSION_MIME_TYPE } from './data';

/** Lumino's Message, without depending on @lumino/messaging for one type. */
type Message = Parameters<Widget['processMessage']>[0];

/** The panel's commands the card runs (ids as in commands-plugin.ts). */
export const CardCommands = {
  open: 'gemini-live:open',
  start: 'gemini-live:start',
  stop: 'gemini-live:stop'
} as const;

/** The part of the CommandRegistry the card uses, so tests can pass a fake. */
export interface ICardCommands {
  execute(id: string, args?: ReadonlyPartialJSONObject): Promise<unknown>;
  hasCommand(id: string): boolean;
  isEnabled(id: string, args?: ReadonlyPartialJSONObject): boolean;
}

/** What the card needs of the panel (the IGeminiLive token has all of it). */
export interface IPanelDevice {
  readonly sessionId: string | null;
  readonly active: boolean;
  /** The panel joined a session someone else created: stopping only leaves it. */
  readonly joined: boolean;
  readonly changed: ISignal<unknown, void>;
}

export interface ICardOptions {
  commands: ICardCommands;
  /** The panel; null when the panel plugin is not loaded. */
  device: IPanelDevice | null;
  /** How often the state is re-read while the card is on screen. */
  pollMs?: number;
}

/** `data-state`: the session's state, or what the card knows instead of it. */
export type CardState =
  api.SessionState | 'loading' | 'gone' | 'unreachable' | 'invalid';

const ENDED: ReadonlySet<CardState> = new Set(['closed', 'error', 'gone']);
const DEFAULT_POLL_MS = 3000;

/** The session the panel is the device of, if any. */
export function panelSession(device: IPanelDevice | null): string | null {
  return device?.active ? device.sessionId : null;
}

export class SessionCard extends Widget implements IRenderMime.IRenderer {
  private data: ISessionCardData | null = null;
  private state: CardState = 'loading';
  private detail = '';
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly button = document.createElement('button');

  constructor(private readonly options: ICardOptions) {
    super();
    this.addClass('jp-GeminiLiveInline');
    this.node.dataset.testid = 'gemini-live-inline';
    this.button.dataset.testid = 'gemini-live-inline-talk';
    this.button.className = 'jp-Button jp-mod-styled jp-GeminiLiveInline-talk';
    this.button.addEventListener('click', () => void this.onClick());
    options.device?.changed.connect(this.onDeviceChanged, this);
  }

  get ended(): boolean {
    return ENDED.has(this.state);
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const parsed = parseCardData(model.data[SESSION_MIME_TYPE]);
    this.stopPolling();
    if (!parsed.ok) {
      this.data = null;
      this.state = 'invalid';
      this.detail = parsed.reason;
      this.render();
      return;
    }
    this.data = parsed.data;
    this.state = 'loading';
    this.render();
    this.startPolling();
    await this.refresh();
  }

  /** Read the session's state from the server (404: the session was deleted). */
  async refresh(): Promise<void> {
    const id = this.data?.session_id;
    if (!id) {
      return;
    }
    try {
      const session = await api.getSession(id);
      this.state = session.state;
      this.detail = session.error ?? '';
    } catch (error) {
      const gone =
        error instanceof api.GeminiLiveApiError && error.status === 404;
      this.state = gone ? 'gone' : 'unreachable';
      this.detail = gone ? '' : (error as Error).message;
    }
    if (this.isDisposed) {
      return;
    }
    if (this.ended) {
      this.stopPolling();
    }
    this.render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.stopPolling();
    this.options.device?.changed.disconnect(this.onDeviceChanged, this);
    super.dispose();
  }

  /** Back on screen (scrolled in, tab shown): do not wait for the next tick. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.refreshIfLive();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.refreshIfLive();
  }

  private refreshIfLive(): void {
    if (this.data && !this.ended) {
      void this.refresh();
    }
  }

  private startPolling(): void {
    const every = this.options.pollMs ?? DEFAULT_POLL_MS;
    // An output nobody looks at costs no requests: skip ticks while hidden.
    this.timer = setInterval(() => {
      if (this.isVisible && !document.hidden) {
        void this.refresh();
      }
    }, every);
  }

  private stopPolling(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private onDeviceChanged(): void {
    this.render();
    // The panel joining or leaving changes the session's device: show it soon.
    this.refreshIfLive();
  }

  private async onClick(): Promise<void> {
    const id = this.data?.session_id;
    if (!id) {
      return;
    }
    const { commands } = this.options;
    if (panelSession(this.options.device) === id) {
      await commands.execute(CardCommands.stop);
      return;
    }
    // Start first and unawaited: the microphone needs the click's user activation.
    const started = commands.execute(CardCommands.start, { sessionId: id });
    void commands.execute(CardCommands.open);
    await started;
  }

  private render(): void {
    const node = this.node;
    node.replaceChildren();
    node.dataset.state = this.state;
    node.classList.toggle('jp-mod-ended', this.ended);
    if (!this.data) {
      delete node.dataset.sessionId;
      node.append(
        element('div', 'jp-GeminiLiveInline-title', 'Gemini Live'),
        element(
          'div',
          'jp-GeminiLiveInline-problem',
          `This output cannot be shown: ${this.detail}.`
        )
      );
      return;
    }
    node.dataset.sessionId = this.data.session_id;
    const header = element('div', 'jp-GeminiLiveInline-header');
    header.append(
      element('span', 'jp-GeminiLiveInline-title', 'Gemini Live'),
      element('span', 'jp-GeminiLiveInline-state', stateLabel(this.state))
    );
    const { backend, model, voice } = this.data;
    node.append(
      header,
      element(
        'div',
        'jp-GeminiLiveInline-setup',
        [backend, model, voice].join(' · ')
      )
    );
    if (this.detail) {
      node.append(element('div', 'jp-GeminiLiveInline-detail', this.detail));
    }
    this.renderButton();
    node.append(this.button);
  }

  private renderButton(): void {
    const id = this.data?.session_id ?? '';
    const here = panelSession(this.options.device) === id;
    const joined = this.options.device?.joined ?? false;
    // A session the panel created itself is deleted by stop, so say so.
    this.button.textContent = here ? (joined ? 'Leave' : 'Stop') : 'Talk';
    const why = here ? '' : this.talkBlocked(id);
    this.button.disabled = why !== '';
    // jp-mod-accept keeps its colour when disabled: only a usable Talk gets it.
    this.button.classList.toggle('jp-mod-accept', !here && !why);
    this.button.classList.toggle('jp-mod-warn', here);
    this.button.title =
      why ||
      (here
        ? leaveTitle(joined)
        : 'Talk in this session from the Gemini Live panel');
  }

  /** Why Talk cannot be pressed now; '' when it can. */
  private talkBlocked(id: string): string {
    const { commands } = this.options;
    if (this.ended) {
      return 'The session has ended.';
    }
    if (!commands.hasCommand(CardCommands.start)) {
      return 'The Gemini Live panel is not available in this application.';
    }
    if (!commands.isEnabled(CardCommands.start, { sessionId: id })) {
      return 'The panel is in another conversation: stop it first.';
    }
    return '';
  }
}

function leaveTitle(joined: boolean): string {
  return joined
    ? 'The panel stops being its microphone; the session goes on'
    : 'The panel started this session: stopping ends it';
}

function stateLabel(state: CardState): string {
  switch (state) {
    case 'closed':
    case 'gone':
      return 'ended';
    case 'error':
      return 'ended (error)';
    case 'loading':
      return '…';
    case 'unreachable':
      return 'state unknown';
    default:
      return state;
  }
}

function element(
  tag: 'div' | 'span',
  className: string,
  text = ''
): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}
