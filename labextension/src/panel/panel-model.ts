/**
 * What the panel shows and does: its state and status line, the session choice and
 * options, mute and push-to-talk, the meters and the latency. The conversation itself
 * (sessions, stream, audio, transcript) is `Conversation`'s; this model reads its
 * signals and adds the words.
 */
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { ReactElement } from 'react';

import * as api from '../api';
import { LevelMeter } from '../audio/level-meter';
import { LatencyTracker } from '../latency';
import { DEFAULT_PREFERENCES, IPreferences } from '../preferences';
import { IMediaShareOptions, MediaShare } from '../share/media-share';
import { ConversationState, LooseEvent } from '../state/conversation-state';
import { ILiveSessionInfo, IStartOptions } from '../tokens';
import { TranscriptModel } from '../transcript';
import {
  Conversation,
  IConversationOptions,
  IEnding,
  IMicFrame,
  Phase
} from './conversation';
import { modelRequest } from '../options/model-options';
import { JoinableSessions } from './joinable';
import {
  IPreflightEnvironment,
  IPreflightProblem,
  preflight
} from './preflight';
import {
  DEFAULT_TRANS,
  PanelState,
  TRANSLATION_DOMAIN,
  endingMessage,
  explainError,
  idleMessage,
  liveMessage,
  phaseStatus,
  startFailure
} from './status-text';

export { PanelState } from './status-text';

export interface IPanelModelOptions extends IConversationOptions {
  /** Writes a text file in the current file-browser folder; returns its path. */
  saveFile: (name: string, content: string) => Promise<string>;
  /** Stores preferences changed in the panel (the settings registry). */
  persist?: (prefs: IPreferences) => void;
  /** Inserts Markdown cells into the active notebook; returns its path (null: none). */
  insertCells?: (cells: string[]) => Promise<string | null>;
  /** JupyterLab's translator; English without one. */
  translator?: ITranslator;
  /** Where the running session's id outlives a page reload (default: sessionStorage). */
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  /** The browser, for the pre-flight check; none: no check. */
  preflight?: IPreflightEnvironment | null;
  /** Camera and screen sharing's devices, capture and clock (tests). */
  share?: Omit<IMediaShareOptions, 'send'>;
}

/** The sessionStorage key of the session this tab runs. */
export const SESSION_KEY = 'jupyter-gemini-live:session';

function defaultStorage(): Pick<
  Storage,
  'getItem' | 'setItem' | 'removeItem'
> | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export class LivePanelModel {
  readonly conversation: Conversation;
  readonly joinable: JoinableSessions;
  readonly micMeter = new LevelMeter();
  readonly modelMeter = new LevelMeter();
  readonly latency = new LatencyTracker();
  /** Thinking, grounding sources and usage, from the server's events. */
  readonly liveState = new ConversationState();
  /** Camera and screen sharing; stops whenever the conversation does. */
  readonly share: MediaShare;
  status: api.IStatus | null = null;
  state: PanelState = 'idle';
  message: string;
  /** The code of the fatal error that ended the last conversation (e.g. `budget_exceeded`). */
  endCode: string | null = null;
  /** What the pre-flight check found; null before it ran. */
  problems: IPreflightProblem[] | null = null;
  readonly trans: TranslationBundle;
  /** The Session select: null until the user picks, '' a new session, else an id. */
  sessionChoice: string | null = null;
  prefs: IPreferences = { ...DEFAULT_PREFERENCES };
  /** What other plugins show in the panel (the notebook tools' approvals). */
  readonly sections: ReactElement[] = [];
  private readonly api: api.ISessionsApi;
  private visible = false;
  private readonly storage: Pick<
    Storage,
    'getItem' | 'setItem' | 'removeItem'
  > | null;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _levelsChanged = new Signal<this, void>(this);

  constructor(private readonly options: IPanelModelOptions) {
    this.api = options.api ?? api.restApi;
    this.trans = options.translator?.load(TRANSLATION_DOMAIN) ?? DEFAULT_TRANS;
    this.message = this.trans.__('Loading…');
    this.storage =
      options.storage === undefined ? defaultStorage() : options.storage;
    this.conversation = new Conversation(options);
    this.share = new MediaShare({
      ...options.share,
      send: frame => this.conversation.send(frame)
    });
    this.joinable = new JoinableSessions(this.api);
    const remembered = this.rememberedSession;
    if (remembered) {
      this.joinable.ignored.add(remembered);
    }
    this.joinable.changed.connect(this.onJoinableChanged, this);
    this.follow(this.conversation);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Meters update on their own signal (~20 Hz) so the transcript is not re-rendered. */
  get levelsChanged(): ISignal<this, void> {
    return this._levelsChanged;
  }

  get transcript(): TranscriptModel {
    return this.conversation.transcript;
  }

  get sessionId(): string | null {
    return this.conversation.sessionId;
  }

  /** The conversation runs in a session someone else created (and will delete). */
  get joined(): boolean {
    return this.conversation.joined;
  }

  get muted(): boolean {
    return this.conversation.muted;
  }

  /** The running session's options, for the notebook tools. */
  get sessionInfo(): ILiveSessionInfo | null {
    const session = this.conversation.session;
    if (!session) {
      return null;
    }
    const capabilities =
      this.status?.capabilities?.[session.model] ??
      this.status?.unknown_model_capabilities;
    return {
      id: session.id,
      notebook: session.notebook === true,
      // As the server declares run_cell (notebook_tools.declarations).
      asyncTools:
        capabilities?.async_function_calling === true &&
        !!capabilities.behaviors?.includes('NON_BLOCKING')
    };
  }

  /** Show `element` in the panel until the returned disposable is disposed. */
  addSection(element: ReactElement): IDisposable {
    this.sections.push(element);
    this.emit();
    return new DisposableDelegate(() => {
      this.sections.splice(this.sections.indexOf(element), 1);
      this.emit();
    });
  }

  get talking(): boolean {
    return this.conversation.talking;
  }

  get active(): boolean {
    return this.state !== 'idle' && this.state !== 'error';
  }

  /** Live, but the microphone could not start: only typing and listening work. */
  get micWarning(): boolean {
    return this.state === 'live' && this.conversation.microphoneError !== null;
  }

  /** The session this tab ran before a page reload, if any. */
  get rememberedSession(): string | null {
    try {
      return this.storage?.getItem(SESSION_KEY) || null;
    } catch {
      return null;
    }
  }

  /** Notebook cells can be inserted (JupyterLab has notebooks). */
  get canInsert(): boolean {
    return !!this.options.insertCells;
  }
  /** Push-to-talk as the session in use has it, else as the preferences say. */
  get pushToTalk(): boolean {
    return this.conversation.manual ?? this.prefs.pushToTalk;
  }

  /** One waiting session the user has not decided about: point at it, never auto-join. */
  get showJoinHint(): boolean {
    return (
      !this.active &&
      this.sessionChoice === null &&
      this.joinable.items.length === 1
    );
  }

  /** The pre-flight check: what will stop the microphone, before Start. */
  async checkPreflight(): Promise<IPreflightProblem[]> {
    const env = this.options.preflight;
    if (!env) {
      return [];
    }
    const problems = await preflight(env, this.trans);
    this.problems = problems;
    this.emit();
    return problems;
  }

  /**
   * After a page reload: take up the session this tab ran, within the server's
   * reconnect grace, with its transcript so far. A session that has ended (or cannot
   * be taken up) is forgotten, and deleted when it still exists.
   */
  async resume(): Promise<boolean> {
    const id = this.rememberedSession;
    if (!id || this.active) {
      return false;
    }
    const session = await this.api.getSession(id).catch(() => null);
    if (
      !session ||
      (session.state !== 'live' && session.state !== 'connecting')
    ) {
      this.forgetSession(id);
      return false;
    }
    this.liveState.clear();
    const started = this.conversation.start({
      resume: id,
      audioFormat: () => this.audioFormat()
    });
    this.setState('starting', this.trans.__('Rejoining the conversation…'));
    try {
      await started;
      return true;
    } catch (error) {
      this.forgetSession(id);
      void this.api.deleteSession(id).catch(() => undefined);
      this.finish('error', startFailure(false, error, this.trans));
      return false;
    }
  }

  /** The backend a new session would use. */
  get backend(): string {
    return this.prefs.backend || this.status?.default_backend || '';
  }

  /** Preferences changed in the panel; `fromSettings` when they came from the registry. */
  setPreferences(prefs: Partial<IPreferences>, fromSettings = false): void {
    this.prefs = { ...this.prefs, ...prefs };
    this.conversation.halfDuplex = this.prefs.halfDuplex;
    if (!fromSettings) {
      this.options.persist?.(this.prefs);
    }
    this.emit();
  }

  async refreshStatus(): Promise<void> {
    try {
      this.status = await this.api.getStatus();
      if (!this.active) {
        this.setState(this.state, this.idleMessage());
      }
    } catch (error) {
      this.status = null;
      const why = (error as Error).message;
      this.setState(
        'error',
        this.trans.__('Cannot read the server status: %1', why)
      );
    }
  }

  /** The Session select: '' for a new session, or the id of a joinable one. */
  chooseSession(id: string): void {
    this.sessionChoice = id;
    this.emit();
  }

  /** The panel is on screen (or not): the session list is polled only while it is. */
  setVisible(visible: boolean): void {
    this.visible = visible;
    this.syncPolling();
  }

  refreshSessions(): Promise<void> {
    return this.joinable.refresh();
  }

  /** Start a conversation; call from the click/command handler (user gesture). */
  async start(options: IStartOptions = {}): Promise<void> {
    if (this.active) {
      return;
    }
    const join = options.sessionId ?? this.sessionChoice ?? '';
    this.liveState.clear();
    this.endCode = null;
    const started = this.conversation.start({
      join: join || undefined,
      create: sessionRequest(this.prefs, this.status),
      audioFormat: () => this.audioFormat()
    });
    const doing = join
      ? this.trans.__('Joining the session…')
      : this.trans.__('Creating the session…');
    this.setState('starting', doing);
    try {
      await started;
    } catch (error) {
      this.finish('error', startFailure(!!join, error, this.trans));
      void this.checkPreflight();
    }
  }

  async stop(): Promise<void> {
    const joined = this.conversation.joined;
    await this.conversation.leave();
    this.forgetSession();
    // A joined session belongs to the notebook, which keeps using it: only left.
    const left = this.trans.__("Left the notebook's session");
    this.finish('idle', joined ? left : this.idleMessage());
  }

  toggleMute(): void {
    this.conversation.muted = !this.conversation.muted;
    this.emit();
  }

  /** Push-to-talk: pressed (true) or released (false). */
  setTalking(talking: boolean): void {
    if (this.conversation.setTalking(talking)) {
      this.emit();
    }
  }

  async sendText(text: string): Promise<void> {
    const trimmed = text.trim();
    if (trimmed && this.sessionId) {
      await this.conversation
        .sendText(trimmed)
        .catch(error => this.note((error as Error).message));
    }
  }

  async saveTranscript(): Promise<string | null> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const content = this.transcript.toMarkdown(
      this.title(stamp),
      turn => this.liveState.markdown(turn),
      this.liveState.sessionMarkdown()
    );
    try {
      const name = `gemini-live-${stamp}.md`;
      const path = await this.options.saveFile(name, content);
      this.note(this.trans.__('Transcript saved to %1', path));
      return path;
    } catch (error) {
      const why = (error as Error).message;
      this.note(this.trans.__('Could not save the transcript: %1', why));
      return null;
    }
  }

  /** The conversation as Markdown cells (a title, then one per turn) in the notebook. */
  async insertIntoNotebook(): Promise<string | null> {
    const insert = this.options.insertCells;
    const cells = this.transcript.toCells(turn =>
      this.liveState.markdown(turn)
    );
    if (!insert || cells.length === 0) {
      return null;
    }
    const stamp = new Date().toISOString().replace('T', ' ').slice(0, 16);
    try {
      const path = await insert([`# ${this.title(stamp)}`, ...cells]);
      this.note(
        path
          ? this.trans.__('Conversation inserted into %1', path)
          : this.trans.__('Open a notebook to insert the conversation into.')
      );
      return path;
    } catch (error) {
      const why = (error as Error).message;
      this.note(this.trans.__('Could not insert the conversation: %1', why));
      return null;
    }
  }

  dispose(): void {
    this.share.dispose();
    this.liveState.dispose();
    this.conversation.dispose();
    this.joinable.dispose();
    Signal.clearData(this);
  }

  private follow(conversation: Conversation): void {
    conversation.phaseChanged.connect((_, phase) => this.onPhase(phase));
    conversation.ended.connect((_, ending) => this.onEnded(ending));
    conversation.serverError.connect((_, error) => {
      // The first answer to a tool call wins (a kernel may have it too): a later
      // answer's refusal is expected, not news.
      if (error.code !== 'unknown_tool_call') {
        this.note(`${error.message} (${error.code})`);
      }
    });
    conversation.micFrame.connect((_, frame) => this.onMicFrame(frame));
    // Typed text and push-to-talk turns are not voice-to-voice: not measured.
    conversation.speechEnded.connect(() => this.latency.skipTurn());
    conversation.voiceStarted.connect(() => this.onVoiceStarted());
    conversation.event.connect((_, event) =>
      this.liveState.handle(event as unknown as LooseEvent)
    );
    conversation.voiceLevel.connect((_, db) => this.onVoiceLevel(db));
    conversation.historyLoaded.connect((_, history) =>
      this.liveState.loadHistory(history.entries, history.session.stats?.usage)
    );
  }

  private async audioFormat(): Promise<api.IAudioFormat> {
    if (!this.status) {
      this.status = await this.api.getStatus();
    }
    return this.status.audio;
  }

  private onPhase(phase: Phase): void {
    if (phase === 'live') {
      const id = this.sessionId;
      if (id && !this.joined) {
        this.rememberSession(id);
      }
      this.setState('live', this.liveMessage());
      return;
    }
    const status = phaseStatus(phase, this.trans);
    if (status) {
      this.setState(...status);
    }
  }

  private onEnded(ending: IEnding): void {
    this.forgetSession();
    this.endCode = ending.code;
    this.finish('error', endingMessage(ending, this.trans));
  }

  private rememberSession(id: string): void {
    this.joinable.ignored.add(id);
    try {
      this.storage?.setItem(SESSION_KEY, id);
    } catch {
      // storage full or disabled: a reload will not rejoin
    }
  }

  /** The remembered session is over (or `id`, which was remembered). */
  private forgetSession(id?: string): void {
    const remembered = this.rememberedSession;
    if (remembered && (!id || id === remembered)) {
      try {
        this.storage?.removeItem(SESSION_KEY);
      } catch {
        // nothing to do
      }
    }
  }

  private title(stamp: string): string {
    return this.trans.__('Gemini Live conversation %1', stamp);
  }

  private onMicFrame(frame: IMicFrame): void {
    const now = performance.now();
    this.micMeter.update(frame.levelDb, now);
    if (frame.voiced) {
      this.latency.micFrame(frame.levelDb, now);
    }
  }

  private onVoiceStarted(): void {
    this.latency.modelAudioStarted(performance.now());
    this.emit();
  }

  private onVoiceLevel(db: number): void {
    this.modelMeter.update(db, performance.now());
    this._levelsChanged.emit();
  }

  private onJoinableChanged(): void {
    const choice = this.sessionChoice;
    // A chosen session that ended or was taken is no longer offered.
    if (choice && !this.active && !this.joinable.find(choice)) {
      this.sessionChoice = null;
    }
    this.emit();
  }

  private syncPolling(): void {
    if (this.visible && !this.active) {
      this.joinable.startPolling();
    } else {
      this.joinable.stopPolling();
    }
  }

  private liveMessage(): string {
    const failure = this.conversation.microphoneFailure;
    return liveMessage(
      {
        pushToTalk: this.pushToTalk,
        pushToTalkKey: this.prefs.pushToTalkKey,
        joined: this.joined,
        microphoneError: failure ? explainError(failure, this.trans) : null
      },
      this.trans
    );
  }

  private idleMessage(): string {
    return idleMessage(this.status, this.trans);
  }

  /** The conversation is over (left, failed, ended): its measurements go too. */
  private finish(state: PanelState, message: string): void {
    this.share.stop();
    this.latency.clear();
    this.micMeter.reset();
    this.modelMeter.reset();
    this.setState(state, message);
  }

  private note(message: string): void {
    this.message = message;
    this.emit();
  }

  private setState(state: PanelState, message: string): void {
    this.state = state;
    this.message = message;
    this.syncPolling();
    this.emit();
  }

  private emit(): void {
    this._changed.emit();
  }
}

/** The POST body of a new session, from the panel's options. */
export function sessionRequest(
  prefs: IPreferences,
  status: api.IStatus | null = null
): api.ICreateSession {
  const request: api.ICreateSession = {
    transcription: true,
    activity_detection: prefs.pushToTalk ? 'manual' : 'auto',
    // Only what the chosen model supports (the server's capability table).
    ...modelRequest(prefs, status)
  };
  if (prefs.backend) {
    request.backend = prefs.backend;
  }
  if (prefs.model) {
    request.model = prefs.model;
  }
  if (prefs.voice) {
    request.voice = prefs.voice;
  }
  if (prefs.systemInstruction.trim()) {
    request.system_instruction = prefs.systemInstruction;
  }
  if (prefs.notebookTools) {
    request.notebook = true;
  }
  return request;
}
