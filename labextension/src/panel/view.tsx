/**
 * The panel's React view: a header (state, backend), what stops the microphone, the
 * controls and one speaking indicator, the conversation as a chat grouped by turn, the
 * composer, and the session options folded away. Every control carries a `data-testid`
 * for browser tests; colours come from JupyterLab's theme variables only
 * (style/base.css); every string goes through the translator (`model.trans`).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { caretRightIcon, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { LevelMeter } from '../audio/level-meter';
import { ModelOptions } from '../options/model-options-view';
import { ShareControls } from '../share/share-view';
import { ConversationState } from '../state/conversation-state';
import {
  HearingIndicator,
  SessionUsage,
  ThinkingIndicator,
  TurnFooter
} from '../state/state-view';
import { ITranscriptRow, ITurnGroup } from '../transcript';
import { describeSession } from './joinable';
import { LivePanelModel } from './panel-model';

export interface IViewProps {
  model: LivePanelModel;
}

/** A level above this (dB) counts as someone talking, for the speaking indicator. */
const SPEAKING_DB = -50;

export function PanelView({ model }: IViewProps): JSX.Element {
  return (
    <UseSignal signal={model.changed}>
      {() => (
        <div className="jp-GeminiLive-body">
          <Header model={model} />
          <div className="jp-GeminiLive-notices">
            <Banner model={model} />
            <Preflight model={model} />
            <JoinHint model={model} />
          </div>
          <Controls model={model} />
          <ShareControls
            share={model.share}
            trans={model.trans}
            live={model.state === 'live'}
          />
          <StatusLine model={model} />
          <Sections model={model} />
          <Transcript model={model} />
          <Composer model={model} />
          <Options model={model} />
        </div>
      )}
    </UseSignal>
  );
}

function stateLabel(model: LivePanelModel): string {
  const trans = model.trans;
  switch (model.state) {
    case 'starting':
      return trans.__('Starting');
    case 'connecting':
      return trans.__('Connecting');
    case 'live':
      return model.micWarning
        ? trans.__('Live, no microphone')
        : trans.__('Live');
    case 'reconnecting':
      return trans.__('Reconnecting');
    case 'error':
      return trans.__('Stopped');
    default:
      return trans.__('Idle');
  }
}

function Header({ model }: IViewProps): JSX.Element {
  const trans = model.trans;
  const backend = model.backend;
  const voice = model.prefs.voice || model.status?.default_voice || '';
  return (
    <header className="jp-GeminiLive-header">
      <h2 className="jp-GeminiLive-title">{trans.__('Gemini Live')}</h2>
      <span
        className={`jp-GeminiLive-badge jp-mod-${
          model.micWarning ? 'warning' : model.state
        }`}
        data-testid="gemini-live-state-badge"
        data-state={model.state}
      >
        {stateLabel(model)}
      </span>
      {backend && (
        <span
          className="jp-GeminiLive-backend"
          data-testid="gemini-live-header-backend"
          title={trans.__('Backend and voice of the session')}
        >
          {[backend, voice].filter(Boolean).join(' · ')}
        </span>
      )}
    </header>
  );
}

function Banner({ model }: IViewProps): JSX.Element | null {
  const gemini = model.status?.backends.gemini;
  if (!gemini || gemini.available) {
    return null;
  }
  const trans = model.trans;
  const reason = gemini.reason ?? trans.__('no API key set');
  return (
    <div
      className="jp-GeminiLive-banner"
      data-testid="gemini-live-banner"
      role="note"
    >
      <strong>{trans.__('Echo mode')}</strong>{' '}
      {trans.__(
        'Gemini is unavailable (%1). Until then you hear your own speech back.',
        reason
      )}
    </div>
  );
}

function Preflight({ model }: IViewProps): JSX.Element | null {
  const problems = model.problems ?? [];
  if (problems.length === 0 || model.state === 'live') {
    return null;
  }
  const trans = model.trans;
  return (
    <div
      className="jp-GeminiLive-preflight"
      data-testid="gemini-live-preflight"
      role="alert"
    >
      <strong>{trans.__('Before you start')}</strong>
      <ul>
        {problems.map(problem => (
          <li key={problem.code} data-code={problem.code}>
            <span>{problem.message}</span>{' '}
            <span className="jp-GeminiLive-action">{problem.action}</span>
          </li>
        ))}
      </ul>
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
      {model.trans.__(
        'A notebook session is waiting — choose it under Session to talk to it'
      )}
    </div>
  );
}

function Controls({ model }: IViewProps): JSX.Element {
  const trans = model.trans;
  const busy = model.state === 'starting';
  return (
    <div
      className="jp-GeminiLive-controls"
      role="toolbar"
      aria-label={trans.__('Conversation controls')}
    >
      {model.active ? (
        <button
          className="jp-Button jp-mod-styled jp-mod-warn"
          data-testid="gemini-live-stop"
          onClick={() => void model.stop()}
        >
          {trans.__('Stop')}
        </button>
      ) : (
        <button
          className="jp-Button jp-mod-styled jp-mod-accept"
          data-testid="gemini-live-start"
          disabled={busy}
          onClick={() => void model.start()}
        >
          {trans.__('Start')}
        </button>
      )}
      <button
        className="jp-Button jp-mod-styled"
        data-testid="gemini-live-mute"
        aria-pressed={model.muted}
        onClick={() => model.toggleMute()}
      >
        {model.muted ? trans.__('Unmute') : trans.__('Mute')}
      </button>
      {model.pushToTalk && <TalkButton model={model} />}
      <Speaking model={model} />
    </div>
  );
}

function TalkButton({ model }: IViewProps): JSX.Element {
  const hold = (talking: boolean) => (event: React.SyntheticEvent) => {
    event.preventDefault();
    model.setTalking(talking);
  };
  const key =
    (talking: boolean) => (event: React.KeyboardEvent<HTMLButtonElement>) => {
      if (event.key === ' ' || event.key === 'Enter') {
        if (!(talking && event.repeat)) {
          hold(talking)(event);
        }
      }
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
      onKeyDown={key(true)}
      onKeyUp={key(false)}
      title={model.trans.__(
        'Hold to talk (or hold %1)',
        model.prefs.pushToTalkKey
      )}
    >
      {model.trans.__('Talk')}
    </button>
  );
}

/** Who is talking now, with the microphone's and the model's levels. */
function Speaking({ model }: IViewProps): JSX.Element {
  const trans = model.trans;
  return (
    <UseSignal signal={model.levelsChanged}>
      {() => {
        const now = performance.now();
        const live = model.state === 'live';
        const modelTalks = live && model.modelMeter.display(now) > SPEAKING_DB;
        const userTalks =
          live &&
          !model.muted &&
          !model.micWarning &&
          model.micMeter.display(now) > SPEAKING_DB;
        const who = modelTalks ? 'model' : userTalks ? 'user' : 'none';
        const label =
          who === 'model'
            ? trans.__('Gemini is speaking')
            : who === 'user'
              ? trans.__('You are speaking')
              : live
                ? trans.__('Listening')
                : trans.__('Not connected');
        return (
          <div
            className={`jp-GeminiLive-speaking jp-mod-${who}`}
            data-testid="gemini-live-speaking"
            data-who={who}
            aria-label={label}
            title={label}
          >
            <span className="jp-GeminiLive-speakingDot" aria-hidden="true" />
            <div className="jp-GeminiLive-meters">
              <Meter
                label={trans.__('You')}
                meter={model.micMeter}
                testid="gemini-live-mic-level"
                now={now}
              />
              <Meter
                label={trans.__('Gemini')}
                meter={model.modelMeter}
                testid="gemini-live-model-level"
                now={now}
              />
            </div>
          </div>
        );
      }}
    </UseSignal>
  );
}

function Meter(props: {
  label: string;
  meter: LevelMeter;
  testid: string;
  now: number;
}): JSX.Element {
  const db = props.meter.display(props.now);
  const percent = Math.round(props.meter.fraction(props.now) * 100);
  return (
    <div
      className="jp-GeminiLive-meter"
      data-testid={props.testid}
      data-db={db.toFixed(1)}
      role="meter"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
    >
      <span className="jp-GeminiLive-meterLabel">{props.label}</span>
      <span className="jp-GeminiLive-meterTrack">
        <span
          className="jp-GeminiLive-meterFill"
          style={{ width: `${percent}%` }}
        />
      </span>
    </div>
  );
}

function StatusLine({ model }: IViewProps): JSX.Element {
  const trans = model.trans;
  const latency = model.latency.last;
  const median = model.latency.median;
  const text =
    latency === null
      ? ''
      : trans.__(
          'Voice-to-voice %1 ms (median %2 ms)',
          Math.round(latency),
          Math.round(median ?? latency)
        );
  return (
    <div className="jp-GeminiLive-statusRow">
      <div
        className={`jp-GeminiLive-status jp-mod-${model.state}${
          model.micWarning ? ' jp-mod-warning' : ''
        }`}
        data-testid="gemini-live-status"
        data-state={model.state}
        data-warning={String(model.micWarning)}
        data-code={model.endCode ?? ''}
        role="status"
      >
        {model.message}
      </div>
      {model.state === 'live' && (
        <HearingIndicator state={model.liveState} trans={trans} />
      )}
      <SessionUsage state={model.liveState} trans={trans} />
      <div
        className="jp-GeminiLive-latency"
        data-testid="gemini-live-latency"
        data-ms={latency === null ? '' : Math.round(latency)}
        data-median-ms={median === null ? '' : Math.round(median)}
        title={trans.__(
          'From the end of your speech to the first model audio played, for spoken turns (typed text and push-to-talk are not measured); the median over this session'
        )}
      >
        {text}
      </div>
    </div>
  );
}

function formatTime(time: number): string {
  return new Date(time).toLocaleTimeString();
}

function Transcript({ model }: IViewProps): JSX.Element {
  const end = React.useRef<HTMLDivElement>(null);
  const trans = model.trans;
  React.useEffect(() => {
    // Statement body on purpose: newer Chromium returns a Promise from scroll
    // methods, and React would call a returned value as the effect's cleanup.
    end.current?.scrollIntoView?.({ block: 'end' });
  });
  return (
    <UseSignal signal={model.transcript.changed}>
      {() => {
        const groups = model.transcript.turns();
        return (
          <div
            className="jp-GeminiLive-transcript"
            data-testid="gemini-live-transcript"
            role="region"
            aria-label={trans.__('Conversation')}
            tabIndex={0}
          >
            {groups.length === 0 && (
              <div className="jp-GeminiLive-empty">
                {trans.__('The conversation appears here.')}
              </div>
            )}
            {groups.map(group => (
              <TurnGroup
                key={group.rows[0].key}
                group={group}
                trans={trans}
                state={model.liveState}
              />
            ))}
            <ThinkingIndicator state={model.liveState} trans={trans} />
            <div ref={end} />
            <Announcer model={model} />
          </div>
        );
      }}
    </UseSignal>
  );
}

/** Reads out each turn once it is final (an aria-live region, visually hidden). */
function Announcer({ model }: IViewProps): JSX.Element {
  const final = model.transcript.items.filter(
    row => row.final && row.role !== 'tool' && row.text.trim()
  );
  const last = final[final.length - 1];
  const who =
    last?.role === 'user' ? model.trans.__('You') : model.trans.__('Gemini');
  return (
    <div
      className="jp-GeminiLive-srOnly"
      aria-live="polite"
      data-testid="gemini-live-announcer"
    >
      {last ? `${who}: ${last.text}` : ''}
    </div>
  );
}

function TurnGroup(props: {
  group: ITurnGroup;
  trans: TranslationBundle;
  state?: ConversationState;
}): JSX.Element {
  const { group, trans, state } = props;
  const label =
    group.turn === null
      ? trans.__('Typed, not sent yet')
      : trans.__('Turn %1', group.turn);
  return (
    <section
      className="jp-GeminiLive-turn"
      aria-label={label}
      data-testid="gemini-live-turn"
      data-turn={group.turn ?? ''}
    >
      {group.rows.map(row =>
        row.role === 'tool' ? (
          <ToolRow key={row.key} row={row} trans={trans} />
        ) : (
          <TranscriptRow key={row.key} row={row} trans={trans} />
        )
      )}
      {state && <TurnFooter state={state} trans={trans} turn={group.turn} />}
    </section>
  );
}

function rowAttributes(row: ITranscriptRow) {
  return {
    'data-testid': 'gemini-live-row',
    'data-role': row.role,
    'data-turn': row.turn ?? '',
    'data-typed': row.typed ?? '',
    'data-final': String(row.final),
    'data-interrupted': String(row.interrupted),
    title: formatTime(row.time)
  };
}

function rowClasses(row: ITranscriptRow): string {
  return [
    'jp-GeminiLive-row',
    `jp-mod-${row.role}`,
    row.final ? 'jp-mod-final' : 'jp-mod-partial',
    row.interrupted ? 'jp-mod-interrupted' : '',
    row.typed ? `jp-mod-${row.typed}` : ''
  ]
    .filter(Boolean)
    .join(' ');
}

function TranscriptRow(props: {
  row: ITranscriptRow;
  trans: TranslationBundle;
}): JSX.Element {
  const { row, trans } = props;
  const who = row.role === 'user' ? trans.__('You') : trans.__('Gemini');
  return (
    <div className={rowClasses(row)} {...rowAttributes(row)}>
      <div className="jp-GeminiLive-rowHead">
        <span className="jp-GeminiLive-who">{who}</span>
        <RowTags row={row} trans={trans} />
        <time
          className="jp-GeminiLive-time"
          dateTime={new Date(row.time).toISOString()}
        >
          {formatTime(row.time)}
        </time>
      </div>
      <div className="jp-GeminiLive-text">{row.text || '…'}</div>
    </div>
  );
}

/** Typed text (sent or refused), and a model turn cut off. */
function RowTags(props: {
  row: ITranscriptRow;
  trans: TranslationBundle;
}): JSX.Element {
  const { row, trans } = props;
  const tags: [string, string][] = [];
  if (row.typed === 'refused') {
    tags.push(['refused', trans.__('not sent')]);
  } else if (row.typed || row.typedText) {
    tags.push(['typed', trans.__('typed')]);
  }
  if (row.interrupted) {
    tags.push(['interrupted', trans.__('interrupted')]);
  }
  return (
    <>
      {tags.map(([kind, text]) => (
        <span key={kind} className={`jp-GeminiLive-note jp-mod-${kind}`}>
          {text}
        </span>
      ))}
    </>
  );
}

function ToolRow(props: {
  row: ITranscriptRow;
  trans: TranslationBundle;
}): JSX.Element {
  const { row, trans } = props;
  const name = row.text.split('(')[0];
  return (
    <details className={rowClasses(row)} {...rowAttributes(row)}>
      <summary className="jp-GeminiLive-toolSummary">
        <caretRightIcon.react
          className="jp-GeminiLive-caret"
          tag="span"
          elementSize="small"
        />
        <span className="jp-GeminiLive-who">{trans.__('Tool call')}</span>{' '}
        <code>{name}</code>
        <RowTags row={row} trans={trans} />
      </summary>
      <pre className="jp-GeminiLive-text">{row.text}</pre>
    </details>
  );
}

function Composer({ model }: IViewProps): JSX.Element {
  const trans = model.trans;
  const [text, setText] = React.useState('');
  const send = () => {
    void model.sendText(text);
    setText('');
  };
  const empty = model.transcript.items.length === 0;
  return (
    <div className="jp-GeminiLive-composerArea">
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
          aria-label={trans.__('Message to Gemini')}
          placeholder={trans.__('Type a message…')}
          value={text}
          disabled={model.state !== 'live'}
          onChange={event => setText(event.target.value)}
        />
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept"
          data-testid="gemini-live-send"
          disabled={model.state !== 'live' || !text.trim()}
        >
          {trans.__('Send')}
        </button>
      </form>
      <div className="jp-GeminiLive-actions">
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-minimal"
          data-testid="gemini-live-save"
          disabled={empty}
          onClick={() => void model.saveTranscript()}
        >
          {trans.__('Save transcript')}
        </button>
        {model.canInsert && (
          <button
            type="button"
            className="jp-Button jp-mod-styled jp-mod-minimal"
            data-testid="gemini-live-insert"
            disabled={empty}
            onClick={() => void model.insertIntoNotebook()}
          >
            {trans.__('Insert into notebook')}
          </button>
        )}
      </div>
    </div>
  );
}

function SessionSelect({ model }: IViewProps): JSX.Element {
  const trans = model.trans;
  const choice = model.active
    ? (model.joined && model.sessionId) || ''
    : (model.sessionChoice ?? '');
  const listed = model.joinable.items;
  // The session in use is no longer "joinable" (it has our device): keep it shown.
  const inUse =
    choice && !listed.some(s => s.id === choice) ? [choice] : ([] as string[]);
  return (
    <label>
      <span>{trans.__('Session')}</span>
      <select
        className="jp-mod-styled"
        data-testid="gemini-live-session"
        value={choice}
        disabled={model.active}
        onChange={event => model.chooseSession(event.target.value)}
      >
        <option value="">{trans.__('New session')}</option>
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
  const trans = model.trans;
  const status = model.status;
  const prefs = model.prefs;
  // A joined session was configured by whoever created it; these apply to new ones.
  const locked = model.active || !!model.sessionChoice;
  const backends = Object.entries(status?.backends ?? {});
  const serverDefault = (name: string | undefined) =>
    trans.__('Server default (%1)', name ?? '…');
  return (
    <details
      className="jp-GeminiLive-options"
      onToggle={event =>
        event.currentTarget.open && void model.refreshSessions()
      }
    >
      <summary>{trans.__('Session options')}</summary>
      <div className="jp-GeminiLive-optionsGrid">
        <SessionSelect model={model} />
        <label>
          <span>{trans.__('Backend')}</span>
          <select
            className="jp-mod-styled"
            data-testid="gemini-live-backend"
            value={prefs.backend}
            disabled={locked}
            onChange={event =>
              model.setPreferences({ backend: event.target.value })
            }
          >
            <option value="">{serverDefault(status?.default_backend)}</option>
            {backends.map(([name, info]) => (
              <option key={name} value={name} disabled={!info.available}>
                {info.available
                  ? name
                  : trans.__(
                      '%1 (unavailable: %2)',
                      name,
                      info.reason ?? trans.__('unknown')
                    )}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span>{trans.__('Model')}</span>
          <input
            className="jp-mod-styled jp-GeminiLive-field"
            data-testid="gemini-live-model"
            list="jp-GeminiLive-models"
            placeholder={trans.__('Server default')}
            title={serverDefault(status?.default_model)}
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
          <span>{trans.__('Voice')}</span>
          <select
            className="jp-mod-styled"
            data-testid="gemini-live-voice"
            value={prefs.voice}
            disabled={locked}
            onChange={event =>
              model.setPreferences({ voice: event.target.value })
            }
          >
            <option value="">{serverDefault(status?.default_voice)}</option>
            {(status?.voices ?? []).map(name => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <ModelOptions
          prefs={prefs}
          status={status}
          trans={trans}
          disabled={locked}
          setPreferences={changed => model.setPreferences(changed)}
        />
        <label className="jp-GeminiLive-wide">
          <span>{trans.__('System instruction')}</span>
          <textarea
            className="jp-mod-styled jp-GeminiLive-field"
            data-testid="gemini-live-instruction"
            rows={2}
            value={prefs.systemInstruction}
            disabled={locked}
            onChange={event =>
              model.setPreferences({ systemInstruction: event.target.value })
            }
          />
        </label>
        <label className="jp-GeminiLive-check jp-GeminiLive-wide">
          <input
            type="checkbox"
            data-testid="gemini-live-ptt-mode"
            checked={model.active ? model.pushToTalk : prefs.pushToTalk}
            disabled={locked}
            onChange={event =>
              model.setPreferences({ pushToTalk: event.target.checked })
            }
          />
          {trans.__('Push-to-talk (hold Talk or %1)', prefs.pushToTalkKey)}
        </label>
        <label className="jp-GeminiLive-check jp-GeminiLive-wide">
          <input
            type="checkbox"
            data-testid="gemini-live-half-duplex"
            checked={prefs.halfDuplex}
            onChange={event =>
              model.setPreferences({ halfDuplex: event.target.checked })
            }
          />
          {trans.__('Mute the microphone while Gemini speaks')}
        </label>
        <label className="jp-GeminiLive-check jp-GeminiLive-wide">
          <input
            type="checkbox"
            data-testid="gemini-live-notebook-tools"
            checked={
              model.active ? !!model.sessionInfo?.notebook : prefs.notebookTools
            }
            disabled={locked}
            onChange={event =>
              model.setPreferences({ notebookTools: event.target.checked })
            }
          />
          {trans.__('Let Gemini see and edit this notebook')}
        </label>
      </div>
    </details>
  );
}

/** What other plugins show in the panel (the notebook tools' approval prompt). */
function Sections({ model }: IViewProps): JSX.Element | null {
  if (model.sections.length === 0) {
    return null;
  }
  return (
    <div className="jp-GeminiLive-sections">
      {model.sections.map((section, at) => (
        <React.Fragment key={at}>{section}</React.Fragment>
      ))}
    </div>
  );
}
