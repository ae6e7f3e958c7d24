/**
 * Typed wrappers over the REST contract of the server extension. Paths are relative
 * to the server's base URL (JupyterHub serves at /user/NAME/), never absolute.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { IGroundingSource, IUsageTotals } from './stream';

export const API_PATH = 'gemini-live/api';

export interface IBackendStatus {
  available: boolean;
  reason?: string | null;
}

export interface IAudioFormat {
  input_rate: number;
  /** Microphone frames are this long (ms): what the server is built to take. */
  frame_ms: number;
  output_rate: number;
  format: string;
  channels: number;
}

/**
 * What one Live model supports (`status.capabilities[model]`, from the server's
 * capability table `jupyter_gemini_live/models.py`).
 */
export interface IModelCapabilities {
  /** `thinking_level` values the model takes (empty: none). */
  thinking_levels: string[];
  default_thinking_level: string | null;
  /** optional: may be turned on; always_on: never sent; unsupported: never sent. */
  proactive_audio: 'unsupported' | 'optional' | 'always_on';
  /** supported: may be set; otherwise never sent. */
  affective_dialog: 'supported' | 'service_decides' | 'unsupported';
  google_search: boolean;
  /** Camera and screen frames, and so `media_resolution`. */
  image_input: boolean;
  /** Function declarations may carry a behavior (NON_BLOCKING: the model talks on). */
  async_function_calling?: boolean;
  /** The behaviors a declaration may ask for. */
  behaviors?: string[];
  interaction_status?: boolean;
  interim_input_transcription?: boolean;
  /** False for the conservative profile of a name the table does not know. */
  known?: boolean;
}

export type MediaResolution = 'low' | 'medium' | 'high';

export interface IStatus {
  version: string;
  backends: Record<string, IBackendStatus>;
  default_backend: string;
  models: string[];
  default_model: string;
  /** What each offered model (and the default) supports. */
  capabilities?: Record<string, IModelCapabilities>;
  /** The conservative profile of any other model name. */
  unknown_model_capabilities?: IModelCapabilities;
  voices: string[];
  default_voice: string;
  audio: IAudioFormat;
  limits?: { max_sessions: number; max_frame_bytes: number };
}

export type SessionState =
  'connecting' | 'live' | 'reconnecting' | 'closed' | 'error';

/** How long the last `count` of something took, in ms (null while there were none). */
export interface IDelaySpread {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface ISessionStats {
  audio_in_ms: number;
  audio_out_ms: number;
  played_ms: number;
  turns: number;
  interruptions: number;
  reconnects: number;
  dropped_in_ms: number;
  /** Model audio a too-slow client could not take. */
  dropped_out_ms: number;
  /** How long recent microphone frames were in the server (arrival to upstream write). */
  uplink_ms: IDelaySpread;
  /** How long recent model audio was in the server (upstream to device socket). */
  downlink_ms: IDelaySpread;
  /** The session's token usage so far and its estimated cost. */
  usage: IUsageTotals;
}

export type ActivityDetection = 'auto' | 'manual';

export interface ISession {
  id: string;
  backend: string;
  model: string;
  voice: string;
  activity_detection: ActivityDetection;
  transcription: boolean;
  record: boolean;
  /** The notebook tools are among the session's tools (the panel answers them). */
  notebook: boolean;
  state: SessionState;
  /** ISO 8601. */
  created: string;
  clients: number;
  /** A microphone/speaker connection holds the session (observers do not count). */
  device_connected: boolean;
  /** The turn under way (what user input goes into). */
  turn: number;
  error: string | null;
  stats: ISessionStats;
}

export interface ICreateSession {
  backend?: string;
  model?: string;
  voice?: string;
  system_instruction?: string;
  language?: string;
  transcription?: boolean;
  activity_detection?: ActivityDetection;
  tools?: Record<string, unknown>[];
  record?: boolean;
  thinking_level?: string;
  proactive_audio?: boolean;
  affective_dialog?: boolean;
  google_search?: boolean;
  media_resolution?: MediaResolution;
  /** The notebook tools (run by the panel) join the session's tools. */
  notebook?: boolean;
}

export interface ITranscriptEntry {
  role: 'user' | 'model';
  text: string;
  turn: number;
  start: number;
  end: number;
  final: boolean;
  interrupted: boolean;
  /** The turn's usage (on its last entry, once the turn is complete). */
  usage: IUsageTotals | null;
  /** Why the turn ended abnormally (on its last entry), e.g. GENERATED_CONTENT_SAFETY. */
  reason: string | null;
  /** Google Search sources of the model's reply (on the turn's last entry). */
  sources: IGroundingSource[];
}

/** The text route's answer: the turn the text went into. */
export interface ITextTurn {
  turn: number;
}

/** A failed request; `message` is the server's own explanation when it gave one. */
export class GeminiLiveApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'GeminiLiveApiError';
  }
}

/** Call `gemini-live/api/<path>` and decode the JSON answer (none for 202/204). */
export async function requestApi<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_PATH, path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new GeminiLiveApiError(
      `Cannot reach the Jupyter server: ${(error as Error).message}`,
      0
    );
  }
  const body = await response.text();
  if (!response.ok) {
    throw new GeminiLiveApiError(
      failureMessage(response, body),
      response.status
    );
  }
  return (body ? JSON.parse(body) : undefined) as T;
}

function failureMessage(response: Response, body: string): string {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof message === 'string' && message) {
      return message;
    }
  } catch {
    // Not JSON (a proxy's HTML error page): fall through to the status line.
  }
  if (response.status === 404) {
    return 'The Gemini Live server extension is not enabled on this Jupyter server (404).';
  }
  return `${response.status} ${response.statusText || 'request failed'}`.trim();
}

function jsonInit(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}

const sessionPath = (id: string, ...rest: string[]) =>
  ['sessions', encodeURIComponent(id), ...rest].join('/');

export function getStatus(
  settings?: ServerConnection.ISettings
): Promise<IStatus> {
  return requestApi<IStatus>('status', {}, settings);
}

export function listSessions(
  settings?: ServerConnection.ISettings
): Promise<ISession[]> {
  return requestApi<ISession[]>('sessions', {}, settings);
}

export function createSession(
  options: ICreateSession,
  settings?: ServerConnection.ISettings
): Promise<ISession> {
  return requestApi<ISession>('sessions', jsonInit('POST', options), settings);
}

export function getSession(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<ISession> {
  return requestApi<ISession>(sessionPath(id), {}, settings);
}

export async function deleteSession(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<void> {
  await requestApi<void>(sessionPath(id), { method: 'DELETE' }, settings);
}

/** Typed text without the stream (202): the turn the server put it in. */
export function sendText(
  id: string,
  text: string,
  settings?: ServerConnection.ISettings
): Promise<ITextTurn> {
  return requestApi<ITextTurn>(
    sessionPath(id, 'text'),
    jsonInit('POST', { text }),
    settings
  );
}

export function getTranscript(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<ITranscriptEntry[]> {
  return requestApi<ITranscriptEntry[]>(
    sessionPath(id, 'transcript'),
    {},
    settings
  );
}

/**
 * Why the server refuses a device connection to a session, in its own words; null when
 * it would accept one. A browser WebSocket never sees the status or body of a refused
 * handshake (only close code 1006), so the same request is repeated as plain HTTP: the
 * server runs its checks (404 unknown, 409 ended or held by another device) before it
 * looks for the Upgrade header, and answers 400 when they all pass. Nothing is opened.
 */
export async function streamRefusal(
  id: string,
  settings?: ServerConnection.ISettings
): Promise<string | null> {
  try {
    await requestApi<void>(
      `${sessionPath(id, 'stream')}?mode=device&exclusive=1`,
      {},
      settings
    );
  } catch (error) {
    return refusalMessage(error as GeminiLiveApiError);
  }
  return null;
}

function refusalMessage(error: GeminiLiveApiError): string | null {
  if (error.status === 409) {
    return error.message.startsWith('409')
      ? 'Another device is already talking in this session.'
      : error.message;
  }
  if (error.status === 404) {
    return 'The session no longer exists.';
  }
  return null;
}

/** The REST calls the panel makes, so that tests can pass a fake server. */
export interface ISessionsApi {
  getStatus(): Promise<IStatus>;
  listSessions(): Promise<ISession[]>;
  createSession(options: ICreateSession): Promise<ISession>;
  getSession(id: string): Promise<ISession>;
  deleteSession(id: string): Promise<void>;
  sendText(id: string, text: string): Promise<ITextTurn>;
  getTranscript(id: string): Promise<ITranscriptEntry[]>;
  streamRefusal(id: string): Promise<string | null>;
}

/** The server's REST API with the default connection settings. */
export const restApi: ISessionsApi = {
  getStatus: () => getStatus(),
  listSessions: () => listSessions(),
  createSession: options => createSession(options),
  getSession: id => getSession(id),
  deleteSession: id => deleteSession(id),
  sendText: (id, text) => sendText(id, text),
  getTranscript: id => getTranscript(id),
  streamRefusal: id => streamRefusal(id)
};
