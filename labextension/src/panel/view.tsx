/**
 * The panel's React view. Every control carries a `data-testid` for browser tests;
 * colours come from JupyterLab's theme variables only (style/base.css).
 */
import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LevelMeter } from '../audio/level-meter';
import { ITranscriptRow } from '../transcript';
import { LivePanelModel } from './panel-model';
import { describeSession } from './joinable';

export interface IViewProps {
  model: LivePanelModel;
}

export function PanelView({ model }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={model.changed}>
      {() => (
        <div className="jp-GeminiLive-body">
          <Banner model={model} />
          <Controls model={model} />
          <JoinHint model={model} />
          <StatusLine model={model} />
          <Meters model={model} />
          <Transcript model={model} />
          <Composer model={model} />
          <Options model={model} />
        </div>
      )}
    </UseSignal>
  );
}

function Banner({ model }: IViewProps): JSX.Element | null {
  const gemini = model.status?.backends.gemini;
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

function Controls({ model }: IViewProps): JSX.Element {
  const busy = model.state === 'starting';
  return (
    <div className="jp-GeminiLive-controls">
      {model.active ? (
        <button
          className="jp-Button jp-mod-styled jp-mod-warn"
          data-testid="gemini-live-stop"
          onClick={() => void model.stop()}
        >
          Stop
        </button>
      ) : (
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          data-testid="gemini-live-start"
          disabled={busy}
          onClick={() => void model.start()}
        >
          Start
        </button>
      )}
      <button
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-mute"
        aria-pressed={model.muted}
        onClick={() => model.toggleMute()}
      >
        {model.muted ? 'Unmute' : 'Mute'}
      </button>
      {model.pushToTalk && <TalkButton model={model} />}
    </div>
  );
}

function JoinHint({ model }: IViewProps): JSX.Element | null {
  if (!model.showJoinHint) {
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

function TalkButton({ model }: IViewProps): JSX.Element {
  const hold = (talking: boolean) => (event: React.SyntheticEvent) => {
    event.preventDefault();
    model.setTalking(talking);
  };
  return (
    <button
      className={`jp-Button jp-mod-styled jp-GeminiLive-talk${
        model.talking ? ' jp-mod-active' : ''
      }`}
      data-testid="gemini-live-ptt"
      aria-pressed={model.talking}
      disabled={model.state !== 'live'}
      onPointerDown={hold(true)}
      onPointerUp={hold(false)}
      onPointerLeave={hold(false)}
      title={`Hold to talk (or hold ${model.prefs.pushToTalkKey})`}
    >
      Talk
    </button>
  );
}

function StatusLine({ model }: IViewProps): JSX.Element {
  const latency = model.latency.last;
  return (
    <div className="jp-GeminiLive-statusRow">
      <div
        className={`jp-GeminiLive-status jp-mod-${model.state}`}
        data-testid="gemini-live-status"
        data-state={model.state}
        role="status"
      >
        {model.message}
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

function Meters({ model }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={model.levelsChanged}>
      {() => (
        <div className="jp-GeminiLive-meters">
          <Meter
            label="Mic"
            meter={model.micMeter}
            testid="gemini-live-mic-level"
          />
          <Meter
            label="Gemini"
            meter={model.modelMeter}
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

function Transcript({ model }: IViewProps): JSX.Element {
  const end = React.useRef<HTMLDivElement>(null);
  const rows = model.transcript.items;
  React.useEffect(() => {
    // Statement body on purpose: newer Chromium returns a Promise from scroll
    // methods, and React would call a returned value as the effect's cleanup.
    end.current?.scrollIntoView?.({ block: 'end' });
  });
  return (
    <UseSignal signal={model.transcript.changed}>
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
    row.interrupted ? 'jp-mod-interrupted' : '',
    row.typed ? `jp-mod-${row.typed}` : ''
  ];
  return (
    <div
      className={classes.filter(Boolean).join(' ')}
      data-testid="gemini-live-row"
      data-role={row.role}
      data-turn={row.turn ?? ''}
      data-typed={row.typed ?? ''}
      data-final={String(row.final)}
      data-interrupted={String(row.interrupted)}
    >
      <span className="jp-GeminiLive-who">{WHO[row.role]}</span>
      <span className="jp-GeminiLive-text">{row.text || '…'}</span>
      <RowNote row={row} />
    </div>
  );
}

/** Typed text the server refused, or a model turn cut off. */
function RowNote({ row }: { row: ITranscriptRow }): JSX.Element | null {
  const note =
    row.typed === 'refused'
      ? 'not sent'
      : row.interrupted
        ? 'interrupted'
        : null;
  return note ? <span className="jp-GeminiLive-note">{note}</span> : null;
}

function Composer({ model }: IViewProps): JSX.Element {
  const [text, setText] = React.useState('');
  const send = () => {
    void model.sendText(text);
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
        disabled={model.state !== 'live'}
        onChange={event => setText(event.target.value)}
      />
      <button
        type="submit"
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-send"
        disabled={model.state !== 'live' || !text.trim()}
      >
        Send
      </button>
      <button
        type="button"
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-save"
        disabled={model.transcript.items.length === 0}
        onClick={() => void model.saveTranscript()}
      >
        Save transcript
      </button>
    </form>
  );
}

function SessionSelect({ model }: IViewProps): JSX.Element {
  const choice = model.active
    ? (model.joined && model.sessionId) || ''
    : (model.sessionChoice ?? '');
  const listed = model.joinable.items;
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
        disabled={model.active}
        onChange={event => model.chooseSession(event.target.value)}
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

function Options({ model }: IViewProps): JSX.Element {
  const status = model.status;
  const prefs = model.prefs;
  // A joined session was configured by whoever created it; these apply to new ones.
  const locked = model.active || !!model.sessionChoice;
  const backends = Object.entries(status?.backends ?? {});
  return (
    <details
      className="jp-GeminiLive-options"
      open={!model.active}
      onToggle={event =>
        event.currentTarget.open && void model.refreshSessions()
      }
    >
      <summary>Session options</summary>
      <SessionSelect model={model} />
      <label>
        Backend
        <select
          className="jp-mod-styled"
          data-testid="gemini-live-backend"
          value={prefs.backend}
          disabled={locked}
          onChange={event =>
            model.setPreferences({ backend: event.target.value })
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
            model.setPreferences({ model: event.target.value })
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
            model.setPreferences({ voice: event.target.value })
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
            model.setPreferences({ systemInstruction: event.target.value })
          }
        />
      </label>
      <label className="jp-GeminiLive-check">
        <input
          type="checkbox"
          data-testid="gemini-live-ptt-mode"
          checked={model.active ? model.pushToTalk : prefs.pushToTalk}
          disabled={locked}
          onChange={event =>
            model.setPreferences({ pushToTalk: event.target.checked })
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
            model.setPreferences({ halfDuplex: event.target.checked })
          }
        />
        Mute the microphone while Gemini speaks
      </label>
    </details>
  );
}
