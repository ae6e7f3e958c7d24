/**
 * Opening the microphone, with messages a user can act on when it fails. The panel and
 * the notebook's inline device both explain a failure with `microphoneMessage`.
 */
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';

/** The translation domain of this extension's strings. */
export const TRANSLATION_DOMAIN = 'jupyter_gemini_live';

/** The browser's processing that keeps the model from hearing itself. */
export const MIC_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
  channelCount: 1
};

/** Why the microphone could not start. */
export type MicrophoneProblem =
  'insecure' | 'denied' | 'missing' | 'busy' | 'other';

export interface IMicrophoneMessageOptions {
  /** Default: English (JupyterLab's null translator). */
  trans?: TranslationBundle;
  /** The label of the button that tries again; default "Start" (the panel's). */
  retry?: string;
  /** The browser's own words, said for a problem of no known kind. */
  detail?: string;
}

/** What to do about a microphone that could not start, in the user's language. */
export function microphoneMessage(
  problem: MicrophoneProblem,
  options: IMicrophoneMessageOptions = {}
): string {
  const trans = options.trans ?? nullTranslator.load(TRANSLATION_DOMAIN);
  const retry = options.retry ?? trans.__('Start');
  switch (problem) {
    case 'insecure':
      return trans.__(
        'This page is not a secure context (plain http from a name other than localhost), so the browser allows no microphone and no audio processing here. Open JupyterLab over https, or tunnel it to localhost: ssh -L 8888:localhost:8888 HOST, then open http://localhost:8888.'
      );
    case 'denied':
      return trans.__(
        'Microphone access was denied. Allow the microphone for this site (the icon in the address bar) and press %1 again.',
        retry
      );
    case 'missing':
      return trans.__(
        'No microphone was found. Connect one (or pick it in the system settings) and press %1 again.',
        retry
      );
    case 'busy':
      return trans.__(
        'The microphone is in use by another application or could not be started. Close the other application and press %1 again.',
        retry
      );
    default:
      return trans.__(
        'Could not open the microphone: %1',
        options.detail || trans.__('unknown error')
      );
  }
}

/** A microphone that could not start: `message` in English, `reason` to say it again. */
export class MicrophoneError extends Error {
  constructor(
    readonly reason: MicrophoneProblem,
    /** The browser's own words (getUserMedia's error), if any. */
    readonly detail = ''
  ) {
    super(microphoneMessage(reason, { detail }));
    this.name = 'MicrophoneError';
  }

  /** The message again, translated, naming the button that retries. */
  describe(options: Omit<IMicrophoneMessageOptions, 'detail'> = {}): string {
    return microphoneMessage(this.reason, { ...options, detail: this.detail });
  }
}

/** The page is not a secure context (plain http from a remote name). */
export function insecureContextError(): MicrophoneError {
  return new MicrophoneError('insecure');
}

/** Why the microphone cannot work on this page at all, or null if it may. */
export function microphoneUnavailable(
  nav: Navigator = navigator,
  secure: boolean = window.isSecureContext
): MicrophoneError | null {
  if (!secure || !nav.mediaDevices || !nav.mediaDevices.getUserMedia) {
    return insecureContextError();
  }
  return null;
}

export async function openMicrophone(
  nav: Navigator = navigator
): Promise<MediaStream> {
  const unavailable = microphoneUnavailable(nav);
  if (unavailable) {
    throw unavailable;
  }
  try {
    return await nav.mediaDevices.getUserMedia({
      audio: MIC_CONSTRAINTS,
      video: false
    });
  } catch (error) {
    throw explain(error as DOMException);
  }
}

/** Turn getUserMedia's DOMException into what to do about it. */
export function explain(error: {
  name?: string;
  message?: string;
}): MicrophoneError {
  switch (error.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return new MicrophoneError('denied');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new MicrophoneError('missing');
    case 'NotReadableError':
    case 'AbortError':
      return new MicrophoneError('busy');
    default:
      return new MicrophoneError('other', error.message || error.name || '');
  }
}
