/** The panel's status line: what each situation of a conversation says (translated). */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { IStatus } from '../api';
import { MicrophoneError } from '../audio/microphone';
import { IEnding, Phase } from './conversation';

/** The gettext domain of this extension's strings. */
export const TRANSLATION_DOMAIN = 'jupyter_gemini_live';

/** English, for tests and callers without an ITranslator. */
export const DEFAULT_TRANS: TranslationBundle =
  nullTranslator.load(TRANSLATION_DOMAIN);

/** What `data-state` of the status line shows. */
export type PanelState =
  'idle' | 'starting' | 'connecting' | 'live' | 'reconnecting' | 'error';

export interface ILiveContext {
  pushToTalk: boolean;
  pushToTalkKey: string;
  /** The panel joined a notebook's session. */
  joined: boolean;
  /** Why the microphone could not start (already translated), or null. */
  microphoneError: string | null;
}

/** The status line while live: how to speak, or that only typing works. */
export function liveMessage(
  context: ILiveContext,
  trans: TranslationBundle = DEFAULT_TRANS
): string {
  const { pushToTalk, joined, microphoneError } = context;
  if (microphoneError) {
    return trans.__(
      'Microphone unavailable: %1 Typing still works.',
      microphoneError
    );
  }
  const how = pushToTalk
    ? trans.__('Hold Talk or %1 to speak.', context.pushToTalkKey)
    : trans.__('Speak any time.');
  const where = joined
    ? pushToTalk
      ? trans.__("Live in the notebook's session (push-to-talk).")
      : trans.__("Live in the notebook's session.")
    : trans.__('Live.');
  return `${where} ${how}`;
}

/**
 * The status line before a conversation. Echo mode is the banner's to explain; the
 * status line does not repeat it.
 */
export function idleMessage(
  status: IStatus | null,
  trans: TranslationBundle = DEFAULT_TRANS
): string {
  return status
    ? trans.__('Ready. Press Start to talk.')
    : trans.__('Loading…');
}

/** The state and message of a phase other than `live` (which needs its context). */
export function phaseStatus(
  phase: Phase,
  trans: TranslationBundle = DEFAULT_TRANS
): [PanelState, string] | null {
  switch (phase) {
    case 'connecting':
      return ['connecting', trans.__('Connecting…')];
    case 'reconnecting':
      return ['reconnecting', trans.__('Connection lost; reconnecting…')];
    case 'upstream_reconnecting':
      return [
        'reconnecting',
        trans.__('Gemini connection lost; the server is reconnecting…')
      ];
    default:
      return null;
  }
}

/** Why the conversation ended, when the stream did not say. */
export function endedMessage(trans: TranslationBundle = DEFAULT_TRANS): string {
  return trans.__('The session ended. Press Start to begin again.');
}

/**
 * Why the conversation ended. A spent budget says so first, then the server's own words
 * (which budget, its setting, how much was used), then what the user can do now.
 */
export function endingMessage(
  ending: IEnding,
  trans: TranslationBundle = DEFAULT_TRANS
): string {
  if (ending.code === 'budget_exceeded') {
    return trans.__(
      'Budget reached. %1 Press Start to begin a new session, whose usage counts from zero.',
      ending.reason ?? ''
    );
  }
  return ending.reason ?? endedMessage(trans);
}

/** A microphone or audio failure, in the user's language, with what to do. */
export function explainError(
  error: unknown,
  trans: TranslationBundle = DEFAULT_TRANS
): string {
  if (error instanceof MicrophoneError) {
    return error.describe({ trans });
  }
  return (error as Error)?.message ?? String(error);
}

export function startFailure(
  joining: boolean,
  error: unknown,
  trans: TranslationBundle = DEFAULT_TRANS
): string {
  const why = explainError(error, trans);
  return joining
    ? trans.__('Could not join: %1', why)
    : trans.__('Could not start: %1', why);
}
