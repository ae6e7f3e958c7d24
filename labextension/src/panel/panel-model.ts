/**
 * What the panel shows and does: its state and status line, the session choice and
 * options, mute and push-to-talk, the meters and the latency. The conversation itself
 * (sessions, stream, audio, transcript) is `Conversation`'s; this model reads its
 * signals and adds the words.
 */
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import { LevelMeter } from '../audio/level-meter';
import { LatencyTracker } from '../latency';
import { DEFAULT_PREFERENCES, IPreferences } from '../preferences';
import { IStartOptions } from '../tokens';
import { TranscriptModel } from '../transcript';
import {
  Conversation,
  IConversationOptions,
  IEnding,
  IMicFrame,
  Phase
} from './conversation';
import { JoinableSessions } from './joinable';
import {
  ENDED_MESSAGE,
  PanelState,
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
}

export class LivePanelModel {
  readonly conversation: Conversation;
  readonly joinable: JoinableSessions;
  readonly micMeter = new LevelMeter();
  readonly modelMeter = new LevelMeter();
  readonly latency = new LatencyTracker();
  status: api.IStatus | null = null;
  state: PanelState = 'idle';
  message = 'Loading…';
  /** The Session select: null until the user picks, '' a new session, else an id. */
  sessionChoice: string | null = null;
  prefs: IPreferences = { ...DEFAULT_PREFERENCES };
  private readonly api: api.ISessionsApi;
  private visible = false;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _levelsChanged = new Signal<this, void>(this);

  constructor(private readonly options: IPanelModelOptions) {
    this.api = options.api ?? api.restApi;
    this.conversation = new Conversation(options);
    this.joinable = new JoinableSessions(this.api);
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

  get talking(): boolean {
    return this.conversation.talking;
  }

  get active(): boolean {
    return this.state !== 'idle' && this.state !== 'error';
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
      this.setState('error', `Cannot read the server status: ${why}`);
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
    const started = this.conversation.start({
      join: join || undefined,
      create: sessionRequest(this.prefs),
      audioFormat: () => this.audioFormat()
    });
    const doing = join ? 'Joining the session…' : 'Creating the session…';
    this.setState('starting', doing);
    try {
      await started;
    } catch (error) {
      this.finish('error', startFailure(!!join, error));
    }
  }

  async stop(): Promise<void> {
    const joined = this.conversation.joined;
    await this.conversation.leave();
    // A joined session belongs to the notebook, which keeps using it: only left.
    const left = "Left the notebook's session";
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
    const title = `Gemini Live conversation ${stamp}`;
    const content = this.transcript.toMarkdown(title);
    try {
      const name = `gemini-live-${stamp}.md`;
      const path = await this.options.saveFile(name, content);
      this.note(`Transcript saved to ${path}`);
      return path;
    } catch (error) {
      this.note(`Could not save the transcript: ${(error as Error).message}`);
      return null;
    }
  }

  dispose(): void {
    this.conversation.dispose();
    this.joinable.dispose();
    Signal.clearData(this);
  }

  private follow(conversation: Conversation): void {
    conversation.phaseChanged.connect((_, phase) => this.onPhase(phase));
    conversation.ended.connect((_, ending) => this.onEnded(ending));
    conversation.serverError.connect((_, error) =>
      this.note(`${error.message} (${error.code})`)
    );
    conversation.micFrame.connect((_, frame) => this.onMicFrame(frame));
    conversation.speechEnded.connect(() =>
      this.latency.activityEnd(performance.now())
    );
    conversation.voiceStarted.connect(() => this.onVoiceStarted());
    conversation.voiceLevel.connect((_, db) => this.onVoiceLevel(db));
  }

  private async audioFormat(): Promise<api.IAudioFormat> {
    if (!this.status) {
      this.status = await this.api.getStatus();
    }
    return this.status.audio;
  }

  private onPhase(phase: Phase): void {
    if (phase === 'live') {
      this.setState('live', this.liveMessage());
      return;
    }
    const status = phaseStatus(phase);
    if (status) {
      this.setState(...status);
    }
  }

  private onEnded(ending: IEnding): void {
    this.finish('error', ending.reason ?? ENDED_MESSAGE);
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
    return liveMessage({
      pushToTalk: this.pushToTalk,
      pushToTalkKey: this.prefs.pushToTalkKey,
      joined: this.joined,
      microphoneError: this.conversation.microphoneError
    });
  }

  private idleMessage(): string {
    return idleMessage(this.status, this.backend);
  }

  /** The conversation is over (left, failed, ended): nothing of it is measured on. */
  private finish(state: PanelState, message: string): void {
    this.latency.reset();
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
export function sessionRequest(prefs: IPreferences): api.ICreateSession {
  const request: api.ICreateSession = {
    transcription: true,
    activity_detection: prefs.pushToTalk ? 'manual' : 'auto'
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
  return request;
}
