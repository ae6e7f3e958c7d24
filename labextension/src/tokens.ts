import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

export interface IStartOptions {
  /** Join this existing session instead of the one chosen in the panel. */
  sessionId?: string;
}

/**
 * The Gemini Live panel, as other plugins use it (the commands, the notebook card):
 * the conversation it runs and the controls of its palette commands.
 */
export interface IGeminiLive {
  /** The session the panel is the microphone and speaker of; null when none. */
  readonly sessionId: string | null;
  /** A conversation is starting or running. */
  readonly active: boolean;
  /** The panel joined a session someone else created: stopping only leaves it. */
  readonly joined: boolean;
  readonly muted: boolean;
  /** Any of the above changed. */
  readonly changed: ISignal<unknown, void>;
  /** Show the panel in its sidebar. */
  open(): void;
  /** Start (or join) a conversation; call from a user gesture (the microphone). */
  start(options?: IStartOptions): Promise<void>;
  stop(): Promise<void>;
  toggleMute(): void;
}

export const IGeminiLive = new Token<IGeminiLive>(
  'jupyter-gemini-live:IGeminiLive',
  'The Gemini Live voice panel.'
);
