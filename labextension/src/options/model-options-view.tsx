/**
 * The model-dependent session options, in the panel's options grid: a thinking level,
 * proactive audio, affective dialog, Google Search grounding and the media resolution
 * of shared video, each only when the chosen model supports it.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { IStatus } from '../api';
import { IPreferences } from '../preferences';
import {
  MEDIA_RESOLUTIONS,
  capabilitiesOf,
  chosenModel,
  offeredOptions
} from './model-options';

export interface IModelOptionsProps {
  prefs: IPreferences;
  status: IStatus | null;
  trans: TranslationBundle;
  /** The options apply to new sessions only. */
  disabled: boolean;
  setPreferences: (prefs: Partial<IPreferences>) => void;
}

export function ModelOptions(props: IModelOptionsProps): JSX.Element {
  const { prefs, status, trans, disabled, setPreferences } = props;
  const model = chosenModel(prefs, status);
  const offered = offeredOptions(capabilitiesOf(status, model));
  const levelName = (level: string): string =>
    ({
      minimal: trans.__('Minimal'),
      low: trans.__('Low'),
      medium: trans.__('Medium'),
      high: trans.__('High')
    })[level] ?? level;
  const check = (
    key: 'proactiveAudio' | 'affectiveDialog' | 'googleSearch',
    testid: string,
    label: string,
    hint: string
  ) => (
    <label className="jp-GeminiLive-check jp-GeminiLive-wide" title={hint}>
      <input
        type="checkbox"
        data-testid={testid}
        checked={prefs[key]}
        disabled={disabled}
        onChange={event => setPreferences({ [key]: event.target.checked })}
      />
      {label}
    </label>
  );
  return (
    <>
      {offered.thinkingLevels.length > 0 && (
        <label>
          <span>{trans.__('Thinking')}</span>
          <select
            className="jp-mod-styled"
            data-testid="gemini-live-thinking-level"
            value={
              offered.thinkingLevels.includes(prefs.thinkingLevel)
                ? prefs.thinkingLevel
                : ''
            }
            disabled={disabled}
            onChange={event =>
              setPreferences({ thinkingLevel: event.target.value })
            }
          >
            <option value="">{trans.__("Model's default")}</option>
            {offered.thinkingLevels.map(level => (
              <option key={level} value={level}>
                {levelName(level)}
              </option>
            ))}
          </select>
        </label>
      )}
      {offered.mediaResolution && (
        <label>
          <span>{trans.__('Video resolution')}</span>
          <select
            className="jp-mod-styled"
            data-testid="gemini-live-media-resolution"
            title={trans.__(
              'How much detail of shared camera and screen frames the model sees'
            )}
            value={prefs.mediaResolution}
            disabled={disabled}
            onChange={event =>
              setPreferences({ mediaResolution: event.target.value })
            }
          >
            <option value="">{trans.__("Model's default")}</option>
            {MEDIA_RESOLUTIONS.map(resolution => (
              <option key={resolution} value={resolution}>
                {levelName(resolution)}
              </option>
            ))}
          </select>
        </label>
      )}
      {offered.googleSearch &&
        check(
          'googleSearch',
          'gemini-live-google-search',
          trans.__('Google Search (sources shown under replies)'),
          trans.__('Let the model search the web to answer')
        )}
      {offered.proactiveAudio &&
        check(
          'proactiveAudio',
          'gemini-live-proactive-audio',
          trans.__('Proactive audio'),
          trans.__('The model may stay silent when it is not addressed')
        )}
      {offered.affectiveDialog &&
        check(
          'affectiveDialog',
          'gemini-live-affective-dialog',
          trans.__('Affective dialog'),
          trans.__("The model adapts its tone to the user's")
        )}
    </>
  );
}
