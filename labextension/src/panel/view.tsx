/**
 * The panel's React view. Every control carries a `data-testid` for browser tests;
 * colours come from JupyterLab's theme variables only (style/base.css).
 */
import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LevelMeter } from '../audio/level-meter';
import { ITranscriptRow } from '../transcript';
import { LiveController } from './controller';
import { describeSession } from './joinable';

export interface IViewProps {
  controller: LiveController;
}

export function PanelView({ controller }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={controller.changed}>
      {() => (
        <div className="jp-GeminiLive-body">
          <Banner controller={controller} />
          <Controls controller={controller} />
          <JoinHint controller={controller} />
          <StatusLine controller={controller} />
          <Meters controller={controller} />
          <Transcript controller={controller} />
          <Composer controller={controller} />
          <Options controller={controller} />
        </div>
      )}
    </UseSignal>
  );
}

function Banner({ controller }: IViewProps): JSX.Element | null {
  const gemini = controller.status?.backends.gemini;
  if (!gemini || gemini.available) {
    return null;
  }
  const reason = gemini.reason ?? 'no API key set';
  return (
    <div
      className="jp-GeminiLive-banner"
      data-testid="gemini-live-banner"
      role="note"
    >
      <strong>Echo mode:</strong> Gemini is unavailable ({reason}); your speech
      is played back.
    </div>
  );
}

function Controls({ controller }: IViewProps): JSX.Element {
  const busy = controller.state === 'starting';
  return (
    <div className="jp-GeminiLive-controls">
      {controller.active ? (
        <button
          className="jp-Button jp-mod-styled jp-mod-warn"
          data-testid="gemini-live-stop"
          onClick={() => void controller.stop()}
        >
          Stop
        </button>
      ) : (
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          data-testid="gemini-live-start"
          disabled={busy}
          onClick={() => void controller.start()}
        >
          Start
        </button>
      )}
      <button
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-mute"
        aria-pressed={controller.muted}
        onClick={() => controller.toggleMute()}
      >
        {controller.muted ? 'Unmute' : 'Mute'}
      </button>
      {controller.pushToTalk && <TalkButton controller={controller} />}
    </div>
  );
}

function JoinHint({ controller }: IViewProps): JSX.Element | null {
  if (!controller.showJoinHint) {
    return null;
  }
  return (
    <div
      className="jp-GeminiLive-hint"
      data-testid="gemini-live-join-hint"
      role="note"
    >
      A notebook session is waiting — choose it under Session to talk to it
    </div>
  );
}

function TalkButton({ controller }: IViewProps): JSX.Element {
  const hold = (talking: boolean) => (event: React.SyntheticEvent) => {
    event.preventDefault();
    controller.setTalking(talking);
  };
  return (
    <button
      className={`jp-Button jp-mod-styled jp-GeminiLive-talk${
        controller.talking ? ' jp-mod-active' : ''
      }`}
      data-testid="gemini-live-ptt"
      aria-pressed={controller.talking}
      disabled={controller.state !== 'live'}
      onPointerDown={hold(true)}
      onPointerUp={hold(false)}
      onPointerLeave={hold(false)}
      title={`Hold to talk (or hold ${controller.prefs.pushToTalkKey})`}
    >
      Talk
    </button>
  );
}

function StatusLine({ controller }: IViewProps): JSX.Element {
  const latency = controller.latency.last;
  return (
    <div className="jp-GeminiLive-statusRow">
      <div
        className={`jp-GeminiLive-status jp-mod-${controller.state}`}
        data-testid="gemini-live-status"
        data-state={controller.state}
        role="status"
      >
        {controller.message}
      </div>
      <div
        className="jp-GeminiLive-latency"
        data-testid="gemini-live-latency"
        data-ms={latency === null ? '' : Math.round(latency)}
        title="From the end of your speech to the first model audio played"
      >
        {latency === null ? '' : `Latency ${Math.round(latency)} ms`}
      </div>
    </div>
  );
}

function Meters({ controller }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={controller.levelsChanged}>
      {() => (
        <div className="jp-GeminiLive-meters">
          <Meter
            label="Mic"
            meter={controller.micMeter}
            testid="gemini-live-mic-level"
          />
          <Meter
            label="Gemini"
            meter={controller.modelMeter}
            testid="gemini-live-model-level"
          />
        </div>
      )}
    </UseSignal>
  );
}

function Meter(props: {
  label: string;
  meter: LevelMeter;
  testid: string;
}): JSX.Element {
  const now = performance.now();
  const db = props.meter.display(now);
  return (
    <div
      className="jp-GeminiLive-meter"
      data-testid={props.testid}
      data-db={db.toFixed(1)}
    >
      <span className="jp-GeminiLive-meterLabel">{props.label}</span>
      <span className="jp-GeminiLive-meterTrack">
        <span
          className="jp-GeminiLive-meterFill"
          style={{ width: `${Math.round(props.meter.fraction(now) * 100)}%` }}
        />
      </span>
    </div>
  );
}

function Transcript({ controller }: IViewProps): JSX.Element {
  const end = React.useRef<HTMLDivElement>(null);
  const rows = controller.transcript.items;
  React.useEffect(() => {
    // Statement body on purpose: newer Chromium returns a Promise from scroll
    // methods, and React would call a returned value as the effect's cleanup.
    end.current?.scrollIntoView?.({ block: 'end' });
  });
  return (
    <UseSignal signal={controller.transcript.changed}>
      {() => (
        <div
          className="jp-GeminiLive-transcript"
          data-testid="gemini-live-transcript"
        >
          {rows.length === 0 && (
            <div className="jp-GeminiLive-empty">
              The conversation appears here.
            </div>
          )}
          {rows.map(row => (
            <TranscriptRow key={row.key} row={row} />
          ))}
          <div ref={end} />
        </div>
      )}
    </UseSignal>
  );
}

const WHO = { user: 'You', model: 'Gemini', tool: 'Tool call' };

function TranscriptRow({ row }: { row: ITranscriptRow }): JSX.Element {
  const classes = [
    'jp-GeminiLive-row',
    `jp-mod-${row.role}`,
    row.final ? 'jp-mod-final' : 'jp-mod-partial',
    row.interrupted ? 'jp-mod-interrupted' : ''
  ];
  return (
    <div
      className={classes.join(' ').trim()}
      data-testid="gemini-live-row"
      data-role={row.role}
      data-turn={row.turn}
      data-final={String(row.final)}
      data-interrupted={String(row.interrupted)}
    >
      <span className="jp-GeminiLive-who">{WHO[row.role]}</span>
      <span className="jp-GeminiLive-text">{row.text || '…'}</span>
      {row.interrupted && (
        <span className="jp-GeminiLive-note">interrupted</span>
      )}
    </div>
  );
}

function Composer({ controller }: IViewProps): JSX.Element {
  const [text, setText] = React.useState('');
  const send = () => {
    void controller.sendText(text);
    setText('');
  };
  return (
    <form
      className="jp-GeminiLive-composer"
      onSubmit={event => {
        event.preventDefault();
        send();
      }}
    >
      <input
        className="jp-mod-styled jp-GeminiLive-input"
        data-testid="gemini-live-text-input"
        placeholder="Type a message…"
        value={text}
        disabled={controller.state !== 'live'}
        onChange={event => setText(event.target.value)}
      />
      <button
        type="submit"
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-send"
        disabled={controller.state !== 'live' || !text.trim()}
      >
        Send
      </button>
      <button
        type="button"
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-save"
        disabled={controller.transcript.items.length === 0}
        onClick={() => void controller.saveTranscript()}
      >
        Save transcript
      </button>
    </form>
  );
}

function SessionSelect({ controller }: IViewProps): JSX.Element {
  const choice = controller.active
    ? (controller.joined && controller.sessionId) || ''
    : (controller.sessionChoice ?? '');
  const listed = controller.joinable.items;
  // The session in use is no longer "joinable" (it has our device): keep it shown.
  const inUse =
    choice && !listed.some(s => s.id === choice) ? [choice] : ([] as string[]);
  return (
    <label>
      Session
      <select
        className="jp-mod-styled"
        data-testid="gemini-live-session"
        value={choice}
        disabled={controller.active}
        onChange={event => controller.chooseSession(event.target.value)}
      >
        <option value="">New session</option>
        {listed.map(session => (
          <option key={session.id} value={session.id}>
            {describeSession(session)}
          </option>
        ))}
        {inUse.map(id => (
          <option key={id} value={id}>
            {`${id.slice(0, 4)}…`}
          </option>
        ))}
      </select>
    </label>
  );
}

function Options({ controller }: IViewProps): JSX.Element {
  const status = controller.status;
  const prefs = controller.prefs;
  // A joined session was configured by whoever created it; these apply to new ones.
  const locked = controller.active || !!controller.sessionChoice;
  const backends = Object.entries(status?.backends ?? {});
  return (
    <details
      className="jp-GeminiLive-options"
      open={!controller.active}
      onToggle={event =>
        event.currentTarget.open && void controller.refreshSessions()
      }
    >
      <summary>Session options</summary>
      <SessionSelect controller={controller} />
      <label>
        Backend
        <select
          className="jp-mod-styled"
          data-testid="gemini-live-backend"
          value={prefs.backend}
          disabled={locked}
          onChange={event =>
            controller.setPreferences({ backend: event.target.value })
          }
        >
          <option value="">
            Server default ({status?.default_backend ?? '…'})
          </option>
          {backends.map(([name, info]) => (
            <option key={name} value={name} disabled={!info.available}>
              {info.available
                ? name
                : `${name} (unavailable: ${info.reason ?? 'unknown'})`}
            </option>
          ))}
        </select>
      </label>
      <label>
        Model
        <input
          className="jp-mod-styled"
          data-testid="gemini-live-model"
          list="jp-GeminiLive-models"
          placeholder={status?.default_model ?? ''}
          value={prefs.model}
          disabled={locked}
          onChange={event =>
            controller.setPreferences({ model: event.target.value })
          }
        />
        <datalist id="jp-GeminiLive-models">
          {(status?.models ?? []).map(name => (
            <option key={name} value={name} />
          ))}
        </datalist>
      </label>
      <label>
        Voice
        <select
          className="jp-mod-styled"
          data-testid="gemini-live-voice"
          value={prefs.voice}
          disabled={locked}
          onChange={event =>
            controller.setPreferences({ voice: event.target.value })
          }
        >
          <option value="">
            Server default ({status?.default_voice ?? '…'})
          </option>
          {(status?.voices ?? []).map(name => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <label>
        System instruction
        <textarea
          className="jp-mod-styled"
          data-testid="gemini-live-instruction"
          rows={3}
          value={prefs.systemInstruction}
          disabled={locked}
          onChange={event =>
            controller.setPreferences({ systemInstruction: event.target.value })
          }
        />
      </label>
      <label className="jp-GeminiLive-check">
        <input
          type="checkbox"
          data-testid="gemini-live-ptt-mode"
          checked={controller.active ? controller.pushToTalk : prefs.pushToTalk}
          disabled={locked}
          onChange={event =>
            controller.setPreferences({ pushToTalk: event.target.checked })
          }
        />
        Push-to-talk (hold Talk or {prefs.pushToTalkKey})
      </label>
      <label className="jp-GeminiLive-check">
        <input
          type="checkbox"
          data-testid="gemini-live-half-duplex"
          checked={prefs.halfDuplex}
          onChange={event =>
            controller.setPreferences({ halfDuplex: event.target.checked })
          }
        />
        Mute the microphone while Gemini speaks
      </label>
    </details>
  );
}
