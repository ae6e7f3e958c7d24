/**
 * The conversation's state in the panel: "thinking…" while the model thinks, "hearing
 * you" while the service hears the user, why a turn ended abnormally and the sources of a
 * grounded reply under its turn, and small usage meters (tokens and estimated cost) per
 * turn and for the session.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  ConversationState,
  IUsageFigures,
  formatCost
} from './conversation-state';
import { reasonText } from './turn-reason';

export interface IStateProps {
  state: ConversationState;
  trans: TranslationBundle;
}

function usageLabel(usage: IUsageFigures, trans: TranslationBundle): string {
  const tokens = trans._n('%1 token', '%1 tokens', usage.tokens);
  return usage.costUsd === null
    ? tokens
    : trans.__('%1 · ~$%2', tokens, formatCost(usage.costUsd));
}

/** "Gemini is thinking…" while the server says so (role status: a polite live region). */
export function ThinkingIndicator({ state, trans }: IStateProps): JSX.Element {
  return (
    <UseSignal signal={state.changed}>
      {() => (
        <div
          className="jp-GeminiLive-thinking"
          data-testid="gemini-live-thinking"
          data-thinking={String(state.thinking)}
          role="status"
        >
          {state.thinking && (
            <>
              <span className="jp-GeminiLive-thinkingDots" aria-hidden="true" />
              {trans.__('Gemini is thinking…')}
            </>
          )}
        </div>
      )}
    </UseSignal>
  );
}

/**
 * "Hearing you" while the service says it hears the user's voice (`voice_activity`, on
 * models that send it); empty otherwise, so nothing shows on models that never do.
 */
export function HearingIndicator({ state, trans }: IStateProps): JSX.Element {
  return (
    <UseSignal signal={state.changed}>
      {() => (
        <span
          className="jp-GeminiLive-hearing"
          data-testid="gemini-live-hearing"
          data-hearing={String(state.hearing)}
          title={trans.__('Gemini hears your voice')}
        >
          {state.hearing && trans.__('Hearing you')}
        </span>
      )}
    </UseSignal>
  );
}

/** Under a turn: why it ended early, its sources (links) and its usage. */
export function TurnFooter(
  props: IStateProps & { turn: number | null }
): JSX.Element {
  const { state, trans, turn } = props;
  return (
    <UseSignal signal={state.changed}>
      {() => {
        const sources = state.sources(turn);
        const usage = state.turnUsage(turn);
        const reason = state.reason(turn);
        if (!sources.length && !usage && !reason) {
          return null;
        }
        return (
          <div className="jp-GeminiLive-turnFooter">
            {reason && (
              <p
                className="jp-GeminiLive-turnReason"
                data-testid="gemini-live-turn-reason"
                data-reason={reason}
                title={trans.__('The service said: %1', reason)}
              >
                {reasonText(reason, trans)}
              </p>
            )}
            {sources.length > 0 && (
              <nav
                className="jp-GeminiLive-sources"
                data-testid="gemini-live-sources"
                aria-label={trans.__('Sources of turn %1', turn ?? '')}
              >
                <span className="jp-GeminiLive-sourcesLabel">
                  {trans.__('Sources')}
                </span>
                <ul>
                  {sources.map(source => (
                    <li key={source.uri}>
                      <a
                        href={source.uri}
                        target="_blank"
                        rel="noopener noreferrer"
                        title={source.uri}
                        data-testid="gemini-live-source"
                      >
                        {source.title}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
            )}
            {usage && (
              <span
                className="jp-GeminiLive-usage"
                data-testid="gemini-live-turn-usage"
                data-tokens={usage.tokens}
                title={trans.__('Tokens of this turn (estimated cost)')}
              >
                {usageLabel(usage, trans)}
              </span>
            )}
          </div>
        );
      }}
    </UseSignal>
  );
}

/** The session's usage so far. */
export function SessionUsage({ state, trans }: IStateProps): JSX.Element {
  return (
    <UseSignal signal={state.changed}>
      {() => {
        const usage = state.session;
        return (
          <span
            className="jp-GeminiLive-usage jp-mod-session"
            data-testid="gemini-live-session-usage"
            data-tokens={usage?.tokens ?? ''}
            title={trans.__(
              'Tokens of this session so far (estimated cost, from the server’s price table)'
            )}
          >
            {usage ? trans.__('Session: %1', usageLabel(usage, trans)) : ''}
          </span>
        );
      }}
    </UseSignal>
  );
}
