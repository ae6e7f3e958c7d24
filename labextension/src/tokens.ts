import { IDisposable } from '@lumino/disposable';
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';
import type { ReactElement } from 'react';

import type { IToolResponse, ServerEvent } from './stream';

export interface IStartOptions {
  /** Join this existing session instead of the one chosen in the panel. */
  sessionId?: string;
}

/** The session the panel runs, as its REST shape and the model's capabilities say. */
export interface ILiveSessionInfo {
  id: string;
  /** Created with `notebook: true`: its tools include the notebook tools. */
  notebook: boolean;
  /** The model takes async (NON_BLOCKING) calls. */
  asyncTools: boolean;
}

/**
 * The Gemini Live panel, as other plugins use it (the commands, the notebook card,
 * the notebook tools): the conversation it runs and the controls of its palette commands.
 */
export interface IGeminiLive {
  /** The session the panel is the microphone and speaker of; null when none. */
  readonly sessionId: string | null;
  /** That session's options; null when none (or not known yet). */
  readonly session: ILiveSessionInfo | null;
  /** A conversation is starting or running. */
  readonly active: boolean;
  /** The panel joined a session someone else created: stopping only leaves it. */
  readonly joined: boolean;
  readonly muted: boolean;
  /** Any of the above changed. */
  readonly changed: ISignal<unknown, void>;
  /** Every event of the session's stream (tool calls among them). */
  readonly serverEvent: ISignal<unknown, ServerEvent>;
  /** Show the panel in its sidebar. */
  open(): void;
  /** Start (or join) a conversation; call from a user gesture (the microphone). */
  start(options?: IStartOptions): Promise<void>;
  stop(): Promise<void>;
  toggleMute(): void;
  /** Answer a tool call on the device stream; false when no stream is open. */
  sendToolResponse(response: IToolResponse): boolean;
  /** Show `element` in the panel above the conversation; dispose to remove it. */
  addSection(element: ReactElement): IDisposable;
}

export const IGeminiLive = new Token<IGeminiLive>(
  'jupyter-gemini-live:IGeminiLive',
  'The Gemini Live voice panel.'
);
