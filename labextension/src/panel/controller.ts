/**
 * One conversation at a time, as the panel shows it: session lifecycle over REST (a
 * session of its own, or one a notebook created and the panel joins), the device
 * websocket, the audio engine, the transcript, meters and latency.
 */
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';
import { AudioEngine } from '../audio/engine';
import {
  LevelMeter,
  meanSquareToDb,
  pcm16Rms,
  rmsToDb
} from '../audio/level-meter';
import { IPlayerReport } from '../audio/player';
import { LatencyTracker } from '../latency';
import { DEFAULT_PREFERENCES, IPreferences } from '../preferences';
import { IConnectionChange, LiveStream, ServerEvent } from '../stream';
import { TranscriptModel } from '../transcript';
import { JoinableSessions } from './joinable';

/** What `data-state` of the status line shows. */
export type PanelState =
  'idle' | 'starting' | 'connecting' | 'live' | 'reconnecting' | 'error';

/** How often the panel tells the server what the speaker really played. */
const PLAYBACK_REPORT_MS = 250;

export interface IControllerOptions {
  /** Writes a text file in the current file-browser folder; returns its path. */
  saveFile: (name: string, content: string) => Promise<string>;
  /** Stores preferences changed in the panel (the settings registry). */
  persist?: (prefs: IPreferences) => void;
}

export interface IStartOptions {
  /** Join this existing session instead of the one chosen in the panel. */
  sessionId?: string;
}

export class LiveController {
  readonly transcript = new TranscriptModel();
  readonly micMeter = new LevelMeter();
  readonly modelMeter = new LevelMeter();
  readonly latency = new LatencyTracker();
  status: api.IStatus | null = null;
  state: PanelState = 'idle';
  message = 'Loading…';
  sessionId: string | null = null;
  /** The conversation runs in a session someone else created (and will delete). */
  joined = false;
  /** The Session select: null until the user picks, '' a new session, else an id. */
  sessionChoice: string | null = null;
  readonly joinable = new JoinableSessions();
  muted = false;
  talking = false;
  prefs: IPreferences = { ...DEFAULT_PREFERENCES };
  private stream: LiveStream | null = null;
  private engine: AudioEngine | null = null;
  private turn = 0;
  private reportedMs = 0;
  private reportTimer: ReturnType<typeof setInterval> | null = null;
  private micProblem: string | null = null;
  /** The running conversation's push-to-talk mode; null when none runs. */
  private conversationManual: boolean | null = null;
  private visible = false;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _levelsChanged = new Signal<this, void>(this);

  constructor(private readonly options: IControllerOptions) {
    this.joinable.changed.connect(this.onJoinableChanged, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Meters update on their own signal (~20 Hz) so the transcript is not re-rendered. */
  get levelsChanged(): ISignal<this, void> {
    return this._levelsChanged;
  }

  get active(): boolean {
    return this.state !== 'idle' && this.state !== 'error';
  }

  /** Push-to-talk as the session in use has it, else as the preferences say. */
  get pushToTalk(): boolean {
    return this.conversationManual ?? this.prefs.pushToTalk;
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
    if (!fromSettings) {
      this.options.persist?.(this.prefs);
    }
    this.emit();
  }

  async refreshStatus(): Promise<void> {
    try {
      this.status = await api.getStatus();
      if (!this.active) {
        this.setState(this.state, this.idleMessage());
      }
    } catch (error) {
      this.status = null;
      this.setState(
        'error',
        `Cannot read the server status: ${(error as Error).message}`
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
    const joinId = options.sessionId ?? this.sessionChoice ?? '';
    this.engine = new AudioEngine();
    this.setState(
      'starting',
      joinId ? 'Joining the session…' : 'Creating the session…'
    );
    try {
      if (!this.status) {
        this.status = await api.getStatus();
      }
      const session = joinId
        ? await this.joinSession(joinId)
        : await this.createSession();
      this.sessionId = session.id;
      this.transcript.clear();
      this.turn = 0;
      if (this.joined) {
        await this.loadHistory(session.id);
      }
      await this.startAudio(this.status.audio);
      this.openStream(session.id);
    } catch (error) {
      await this.teardown();
      const what = joinId ? 'Could not join' : 'Could not start';
      this.setState('error', `${what}: ${(error as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    const id = this.sessionId;
    const joined = this.joined;
    this.reportPlayback();
    await this.teardown();
    // A joined session belongs to the notebook, which keeps using it: only leave.
    this.setState(
      'idle',
      joined ? "Left the notebook's session" : this.idleMessage()
    );
    if (id && !joined) {
      await api
        .deleteSession(id)
        .catch(error => console.warn('gemini-live:', error));
    }
  }

  toggleMute(): void {
    this.muted = !this.muted;
    this.emit();
  }

  /** Push-to-talk: pressed (true) or released (false). */
  setTalking(talking: boolean): void {
    if (talking === this.talking || !this.stream || !this.pushToTalk) {
      return;
    }
    this.talking = talking;
    if (talking) {
      this.bargeIn();
      this.stream.send({ type: 'activity_start' });
    } else {
      this.stream.send({ type: 'activity_end' });
      this.latency.activityEnd(performance.now());
    }
    this.emit();
  }

  async sendText(text: string): Promise<void> {
    const trimmed = text.trim();
    if (!trimmed || !this.sessionId) {
      return;
    }
    this.transcript.addTyped(this.turn + 1, trimmed);
    this.latency.textSent(performance.now());
    if (!this.stream?.send({ type: 'text', text: trimmed })) {
      await api
        .sendText(this.sessionId, trimmed)
        .catch(error => this.fail(error));
    }
  }

  async saveTranscript(): Promise<string | null> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const content = this.transcript.toMarkdown(
      `Gemini Live conversation ${stamp}`
    );
    try {
      const path = await this.options.saveFile(
        `gemini-live-${stamp}.md`,
        content
      );
      this.note(`Transcript saved to ${path}`);
      return path;
    } catch (error) {
      this.note(`Could not save the transcript: ${(error as Error).message}`);
      return null;
    }
  }

  dispose(): void {
    void this.stop();
    this.joinable.dispose();
    Signal.clearData(this);
  }

  private async createSession(): Promise<api.ISession> {
    const session = await api.createSession(this.sessionRequest());
    this.joined = false;
    this.conversationManual = this.prefs.pushToTalk;
    return session;
  }

  /** No POST: the session exists; its own turn-taking mode applies, not ours. */
  private async joinSession(id: string): Promise<api.ISession> {
    const session = await api.getSession(id);
    if (session.state === 'closed' || session.state === 'error') {
      throw new Error(`that session has ended (${session.state})`);
    }
    // Asking for the microphone first would be for nothing; the server checks again.
    if (session.device_connected) {
      throw new Error('another device is already talking in this session');
    }
    this.joined = true;
    this.conversationManual = session.activity_detection === 'manual';
    return session;
  }

  /** What the notebook and the model said before the panel joined. */
  private async loadHistory(id: string): Promise<void> {
    const entries = await api.getTranscript(id).catch(() => undefined);
    for (const entry of entries ?? []) {
      this.transcript.update(entry.role, entry.turn, entry.text, true);
      if (entry.interrupted) {
        this.transcript.interrupt(entry.turn);
      }
    }
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

  private sessionRequest(): api.ICreateSession {
    const p = this.prefs;
    const request: api.ICreateSession = {
      transcription: true,
      activity_detection: p.pushToTalk ? 'manual' : 'auto'
    };
    if (p.backend) {
      request.backend = p.backend;
    }
    if (p.model) {
      request.model = p.model;
    }
    if (p.voice) {
      request.voice = p.voice;
    }
    if (p.systemInstruction.trim()) {
      request.system_instruction = p.systemInstruction;
    }
    return request;
  }

  private async startAudio(audio: api.IAudioFormat): Promise<void> {
    const engine = this.engine as AudioEngine;
    const options = {
      inputRate: audio.input_rate,
      outputRate: audio.output_rate,
      onFrame: (frame: ArrayBuffer) => this.onMicFrame(frame),
      onStarted: () => this.onModelAudioStarted(),
      onDrained: () => this.reportPlayback(),
      onReport: (report: IPlayerReport) => this.onPlayerReport(report)
    };
    await engine.startPlayer(options);
    this.micProblem = null;
    try {
      await engine.startCapture(options);
    } catch (error) {
      // Typing and listening still work without a microphone.
      this.micProblem = (error as Error).message;
    }
  }

  private openStream(id: string): void {
    const stream = new LiveStream({ sessionId: id, exclusive: this.joined });
    // Events of a stream that was already replaced or stopped are ignored.
    const current = (sender: LiveStream) => sender === this.stream;
    stream.eventReceived.connect(
      (sender, event) => current(sender) && this.onEvent(event)
    );
    stream.audioReceived.connect(
      (sender, pcm) => current(sender) && this.engine?.player?.enqueue(pcm)
    );
    stream.connectionChanged.connect(
      (sender, change) => current(sender) && this.onConnection(change)
    );
    this.stream = stream;
    stream.connect();
    this.reportTimer = setInterval(
      () => this.reportPlayback(),
      PLAYBACK_REPORT_MS
    );
  }

  private onConnection(change: IConnectionChange): void {
    if (change.state === 'open') {
      this.setState('live', this.liveMessage());
    } else if (change.state === 'connecting') {
      this.setState('connecting', 'Connecting…');
    } else if (change.state === 'reconnecting') {
      this.setState('reconnecting', 'Connection lost; reconnecting…');
    } else if (this.active) {
      void this.endWith(change);
    }
  }

  /** The stream closed for good; a refused join is explained by the server's answer. */
  private async endWith(change: IConnectionChange): Promise<void> {
    const id = this.sessionId;
    const refusal =
      change.refused && id
        ? await api.streamRefusal(id).catch(() => null)
        : null;
    if (this.sessionId !== id) {
      return; // stopped (or restarted) meanwhile
    }
    await this.teardown();
    this.setState(
      'error',
      refusal ??
        change.reason ??
        'The session ended. Press Start to begin again.'
    );
  }

  private onEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'ready':
        this.turn = Math.max(this.turn, event.session.stats?.turns ?? 0);
        return;
      case 'state':
        return this.onSessionState(event.state);
      case 'transcript':
        this.turn = Math.max(this.turn, event.turn);
        return this.transcript.update(
          event.role,
          event.turn,
          event.text,
          event.final
        );
      case 'interrupted':
        this.engine?.player?.interrupt();
        this.reportPlayback();
        return this.transcript.interrupt(event.turn);
      case 'turn_complete':
        this.turn = Math.max(this.turn, event.turn);
        this.engine?.player?.endTurn();
        return this.transcript.settle(event.turn);
      case 'tool_call':
        // The kernel observer answers tool calls; the panel only shows them.
        return this.transcript.addToolCall(
          this.turn,
          event.id,
          event.name,
          event.args
        );
      case 'tool_call_cancelled':
        return this.transcript.cancelToolCalls(event.ids);
      case 'error':
        return this.note(`${event.message} (${event.code})`);
      default:
        return;
    }
  }

  private onSessionState(state: api.SessionState): void {
    if (state === 'reconnecting') {
      this.setState(
        'reconnecting',
        'Gemini connection lost; the server is reconnecting…'
      );
    } else if (state === 'live' && this.stream?.state === 'open') {
      this.setState('live', this.liveMessage());
    }
  }

  private onMicFrame(frame: ArrayBuffer): void {
    const now = performance.now();
    const level = rmsToDb(pcm16Rms(new Int16Array(frame)));
    this.micMeter.update(level, now);
    const stream = this.stream;
    if (!stream || this.state !== 'live') {
      return;
    }
    if (this.pushToTalk) {
      if (this.talking && !this.muted) {
        stream.sendAudio(frame);
      }
      return;
    }
    const silenced =
      this.muted || (this.prefs.halfDuplex && !!this.engine?.player?.speaking);
    // Silence instead of nothing keeps the server's voice detection on a steady clock.
    stream.sendAudio(silenced ? new ArrayBuffer(frame.byteLength) : frame);
    if (!silenced) {
      this.latency.micFrame(level, now);
    }
  }

  private onModelAudioStarted(): void {
    this.latency.modelAudioStarted(performance.now());
    this.emit();
  }

  private onPlayerReport(report: IPlayerReport): void {
    const now = performance.now();
    this.modelMeter.update(meanSquareToDb(report.meanSquare), now);
    this._levelsChanged.emit();
  }

  /** The user started talking over the model (push-to-talk press). */
  private bargeIn(): void {
    if (this.engine?.player?.speaking) {
      this.engine.player.interrupt();
    }
  }

  private reportPlayback(): void {
    const played = this.engine?.player?.playedMs ?? 0;
    if (this.stream && played > this.reportedMs) {
      if (
        this.stream.send({ type: 'playback', played_ms: Math.round(played) })
      ) {
        this.reportedMs = played;
      }
    }
  }

  private async teardown(): Promise<void> {
    if (this.reportTimer !== null) {
      clearInterval(this.reportTimer);
      this.reportTimer = null;
    }
    const stream = this.stream;
    this.stream = null;
    stream?.dispose();
    const engine = this.engine;
    this.engine = null;
    this.sessionId = null;
    this.joined = false;
    this.conversationManual = null;
    this.talking = false;
    this.reportedMs = 0;
    this.latency.reset();
    this.micMeter.reset();
    this.modelMeter.reset();
    await engine?.close();
  }

  private fail(error: unknown): void {
    this.note((error as Error).message);
  }

  private liveMessage(): string {
    const how = this.pushToTalk
      ? `Hold Talk or ${this.prefs.pushToTalkKey} to speak.`
      : 'Speak any time.';
    const where = this.joined
      ? `Live in the notebook's session${this.pushToTalk ? ' (push-to-talk)' : ''}.`
      : 'Live.';
    const base = `${where} ${how}`;
    return this.micProblem
      ? `${base} Microphone unavailable: ${this.micProblem}`
      : base;
  }

  private idleMessage(): string {
    const gemini = this.status?.backends.gemini;
    if (this.backend === 'echo' && gemini && !gemini.available) {
      return 'Echo mode: press Start and speak; you will hear yourself back.';
    }
    return 'Ready. Press Start to talk.';
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
