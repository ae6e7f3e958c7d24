/**
 * Opening the microphone, with messages a user can act on when it fails.
 */

/** The browser's processing that keeps the model from hearing itself. */
export const MIC_CONSTRAINTS: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
  channelCount: 1
};

export class MicrophoneError extends Error {
  constructor(
    message: string,
    readonly reason: 'insecure' | 'denied' | 'missing' | 'busy' | 'other'
  ) {
    super(message);
    this.name = 'MicrophoneError';
  }
}

/** What to do when the page is not a secure context (plain http from a remote name). */
export const INSECURE_CONTEXT_MESSAGE =
  'This page is not a secure context (plain http from a name other than localhost), ' +
  'so the browser allows no microphone and no audio processing here. Open JupyterLab ' +
  'over https, or tunnel it to localhost: ssh -L 8888:localhost:8888 HOST, then open ' +
  'http://localhost:8888.';

export function insecureContextError(): MicrophoneError {
  return new MicrophoneError(INSECURE_CONTEXT_MESSAGE, 'insecure');
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
      return new MicrophoneError(
        'Microphone access was denied. Allow the microphone for this site (the icon ' +
          'in the address bar) and press Start again.',
        'denied'
      );
    case 'NotFoundError':
    case 'OverconstrainedError':
      return new MicrophoneError(
        'No microphone was found. Connect one (or pick it in the system settings) ' +
          'and press Start again.',
        'missing'
      );
    case 'NotReadableError':
    case 'AbortError':
      return new MicrophoneError(
        'The microphone is in use by another application or could not be started. ' +
          'Close the other application and press Start again.',
        'busy'
      );
    default:
      return new MicrophoneError(
        `Could not open the microphone: ${error.message || error.name || 'unknown error'}`,
        'other'
      );
  }
}
