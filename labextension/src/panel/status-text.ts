/** The panel's status line: what each situation of a conversation says. */
import { IStatus } from '../api';
import { Phase } from './conversation';

/** What `data-state` of the status line shows. */
export type PanelState =
  'idle' | 'starting' | 'connecting' | 'live' | 'reconnecting' | 'error';

export interface ILiveContext {
  pushToTalk: boolean;
  pushToTalkKey: string;
  /** The panel joined a notebook's session. */
  joined: boolean;
  microphoneError: string | null;
}

/** The status line while live: how to speak, and a microphone that failed. */
export function liveMessage(context: ILiveContext): string {
  const { pushToTalk, joined, microphoneError } = context;
  const how = pushToTalk
    ? `Hold Talk or ${context.pushToTalkKey} to speak.`
    : 'Speak any time.';
  const where = joined
    ? `Live in the notebook's session${pushToTalk ? ' (push-to-talk)' : ''}.`
    : 'Live.';
  const base = `${where} ${how}`;
  return microphoneError
    ? `${base} Microphone unavailable: ${microphoneError}`
    : base;
}

/** The status line before a conversation; `backend` is the one a new session uses. */
export function idleMessage(status: IStatus | null, backend: string): string {
  const gemini = status?.backends.gemini;
  if (backend === 'echo' && gemini && !gemini.available) {
    return 'Echo mode: press Start and speak; you will hear yourself back.';
  }
  return 'Ready. Press Start to talk.';
}

/** The state and message of a phase other than `live` (which needs its context). */
export function phaseStatus(phase: Phase): [PanelState, string] | null {
  switch (phase) {
    case 'connecting':
      return ['connecting', 'Connecting…'];
    case 'reconnecting':
      return ['reconnecting', 'Connection lost; reconnecting…'];
    case 'upstream_reconnecting':
      return [
        'reconnecting',
        'Gemini connection lost; the server is reconnecting…'
      ];
    default:
      return null;
  }
}

/** Why the conversation ended, when the stream did not say. */
export const ENDED_MESSAGE = 'The session ended. Press Start to begin again.';

export function startFailure(joining: boolean, error: unknown): string {
  const what = joining ? 'Could not join' : 'Could not start';
  return `${what}: ${(error as Error).message}`;
}
