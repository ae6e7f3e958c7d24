/**
 * Sessions the panel can join: ones a notebook (or another client) created that are
 * up and have no microphone/speaker yet. Polled only while someone could pick one.
 */
import { ISignal, Signal } from '@lumino/signaling';

import * as api from '../api';

/** Often enough to notice `%gemini_live start` soon, rare enough to cost nothing. */
export const JOINABLE_POLL_MS = 5000;

/** Up (or coming up) and nobody is its device: joining takes no one's place. */
export function isJoinable(session: api.ISession): boolean {
  return (
    (session.state === 'live' || session.state === 'connecting') &&
    !session.device_connected
  );
}

/** "echo · Puck · started 14:02 · 3f2a…", for the Session select. */
export function describeSession(session: api.ISession): string {
  const parts = [session.backend, session.voice];
  const created = new Date(session.created);
  if (!isNaN(created.getTime())) {
    const hh = String(created.getHours()).padStart(2, '0');
    const mm = String(created.getMinutes()).padStart(2, '0');
    parts.push(`started ${hh}:${mm}`);
  }
  parts.push(`${session.id.slice(0, 4)}…`);
  return parts.filter(Boolean).join(' · ');
}

/** What a re-render depends on; an unchanged list emits nothing. */
function fingerprint(sessions: api.ISession[]): string {
  return sessions
    .map(s => `${s.id}:${s.activity_detection}:${s.voice}:${s.backend}`)
    .join('|');
}

export class JoinableSessions {
  /** `api.listSessions` by default; tests pass a fake server. */
  constructor(
    private readonly server: Pick<
      api.ISessionsApi,
      'listSessions'
    > = api.restApi
  ) {}

  /** Sessions never offered: the panel's own (its id is kept across a page reload). */
  readonly ignored = new Set<string>();
  private _items: api.ISession[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly _changed = new Signal<this, void>(this);

  get items(): readonly api.ISession[] {
    return this._items.filter(s => !this.ignored.has(s.id));
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get polling(): boolean {
    return this.timer !== null;
  }

  find(id: string): api.ISession | undefined {
    return this._items.find(s => s.id === id);
  }

  /** One GET; a failure keeps the last list (the status line reports the server). */
  async refresh(): Promise<void> {
    let sessions: api.ISession[];
    try {
      sessions = (await this.server.listSessions()).filter(
        s => isJoinable(s) && !this.ignored.has(s.id)
      );
    } catch (error) {
      console.debug('gemini-live: cannot list sessions', error);
      return;
    }
    if (fingerprint(sessions) !== fingerprint(this._items)) {
      this._items = sessions;
      this._changed.emit();
    }
  }

  /** Refresh now and every few seconds; a hidden browser tab skips its turns. */
  startPolling(): void {
    if (this.timer !== null) {
      return;
    }
    void this.refresh();
    this.timer = setInterval(() => {
      if (!document.hidden) {
        void this.refresh();
      }
    }, JOINABLE_POLL_MS);
  }

  stopPolling(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  dispose(): void {
    this.stopPolling();
    Signal.clearData(this);
  }
}
