/**
 * The pre-flight check: before the user presses Start, whatever will stop the
 * microphone (or the stream) is found and explained with the action to take. Each probe
 * of the browser is injected (`IPreflightEnvironment`) so every condition is testable.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { API_PATH } from '../api';

export type PreflightCode =
  'insecure' | 'frame' | 'denied' | 'no-microphone' | 'websocket';

export interface IPreflightProblem {
  code: PreflightCode;
  /** What is wrong. */
  message: string;
  /** What the user does about it. */
  action: string;
}

/** What the check asks of the browser (the page's, or a test's fake). */
export interface IPreflightEnvironment {
  /** window.isSecureContext */
  secureContext: boolean;
  /** The permissions policy allows the microphone here; null when it cannot say. */
  microphoneAllowedByPolicy(): boolean | null;
  /** The microphone permission: 'granted' | 'denied' | 'prompt', null when unknown. */
  microphonePermission(): Promise<PermissionState | null>;
  /** How many audio inputs the browser lists; null when it cannot list them. */
  audioInputs(): Promise<number | null>;
  /** A websocket reaches the server (the probe answered). */
  websocketWorks(): Promise<boolean>;
}

/** How long the websocket probe may take before it counts as blocked. */
export const PROBE_TIMEOUT_MS = 8000;

interface IPolicy {
  allowsFeature(feature: string): boolean;
}

/** The page's own environment. */
export function browserEnvironment(
  settings?: ServerConnection.ISettings
): IPreflightEnvironment {
  return {
    secureContext: window.isSecureContext,
    microphoneAllowedByPolicy: () => {
      const doc = document as unknown as {
        permissionsPolicy?: IPolicy;
        featurePolicy?: IPolicy;
      };
      const policy = doc.permissionsPolicy ?? doc.featurePolicy;
      return policy ? policy.allowsFeature('microphone') : null;
    },
    microphonePermission: async () => {
      try {
        const status = await navigator.permissions.query({
          name: 'microphone' as PermissionName
        });
        return status.state;
      } catch {
        return null; // Firefox and Safari may not know the name
      }
    },
    audioInputs: async () => {
      if (!navigator.mediaDevices?.enumerateDevices) {
        return null;
      }
      try {
        const devices = await navigator.mediaDevices.enumerateDevices();
        return devices.filter(d => d.kind === 'audioinput').length;
      } catch {
        return null;
      }
    },
    websocketWorks: () => probeWebSocket(settings)
  };
}

/** Open the server's probe websocket; true when its `pong` arrives in time. */
export function probeWebSocket(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
  timeoutMs = PROBE_TIMEOUT_MS
): Promise<boolean> {
  let url = URLExt.join(settings.wsUrl, API_PATH, 'probe');
  if (settings.appendToken && settings.token !== '') {
    url += `?token=${encodeURIComponent(settings.token)}`;
  }
  return new Promise(resolve => {
    let socket: WebSocket;
    try {
      socket = new settings.WebSocket(url);
    } catch {
      resolve(false);
      return;
    }
    const done = (works: boolean) => {
      clearTimeout(timer);
      socket.onmessage = socket.onerror = socket.onclose = null;
      socket.close();
      resolve(works);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.onmessage = event => {
      try {
        done(JSON.parse(String(event.data)).type === 'pong');
      } catch {
        done(false);
      }
    };
    socket.onerror = () => done(false);
    socket.onclose = () => done(false);
  });
}

/** Everything that will stop the microphone or the stream, with what to do. */
export async function preflight(
  env: IPreflightEnvironment,
  trans: TranslationBundle
): Promise<IPreflightProblem[]> {
  const problems: IPreflightProblem[] = [];
  const websocket = env.websocketWorks();
  if (!env.secureContext) {
    problems.push({
      code: 'insecure',
      message: trans.__(
        'This page is not a secure context (plain http from a name other than localhost): the browser allows no microphone here.'
      ),
      action: trans.__(
        'Open JupyterLab over https, or tunnel it to localhost: ssh -L 8888:localhost:8888 HOST, then open http://localhost:8888.'
      )
    });
  } else if (env.microphoneAllowedByPolicy() === false) {
    problems.push({
      code: 'frame',
      message: trans.__(
        'JupyterLab runs inside a frame that does not allow the microphone.'
      ),
      action: trans.__(
        'Open JupyterLab in its own browser tab, or have the page that embeds it add allow="microphone" to its iframe.'
      )
    });
  } else {
    const [permission, inputs] = await Promise.all([
      env.microphonePermission(),
      env.audioInputs()
    ]);
    if (permission === 'denied') {
      problems.push({
        code: 'denied',
        message: trans.__('The browser blocks the microphone for this site.'),
        action: trans.__(
          'Allow the microphone in the site settings (the icon in the address bar), then reload the page.'
        )
      });
    } else if (inputs === 0) {
      problems.push({
        code: 'no-microphone',
        message: trans.__('The browser finds no microphone.'),
        action: trans.__(
          'Connect a microphone (or choose one in the system settings). You can still type.'
        )
      });
    }
  }
  if (!(await websocket)) {
    problems.push({
      code: 'websocket',
      message: trans.__(
        'The server cannot be reached over a websocket: a proxy between the browser and JupyterLab seems to block them.'
      ),
      action: trans.__(
        'Allow websocket upgrades in the proxy (nginx: proxy_set_header Upgrade and Connection), or connect without it.'
      )
    });
  }
  return problems;
}
