/**
 * Which session options the chosen model takes, from the server's capability table
 * (`status.capabilities[model]`, else `status.unknown_model_capabilities`): the panel
 * offers only those, and the session request carries only those. A server that sends
 * no table gets none of these options (nothing it could refuse).
 */
import {
  ICreateSession,
  IModelCapabilities,
  IStatus,
  MediaResolution
} from '../api';
import { IPreferences } from '../preferences';

export const MEDIA_RESOLUTIONS: MediaResolution[] = ['low', 'medium', 'high'];

/** The model a new session would use: the chosen one, else the server's default. */
export function chosenModel(
  prefs: Pick<IPreferences, 'model'>,
  status: IStatus | null
): string {
  return prefs.model.trim() || status?.default_model || '';
}

/** What `model` supports; null when the server says nothing (an older server). */
export function capabilitiesOf(
  status: IStatus | null,
  model: string
): IModelCapabilities | null {
  if (!status?.capabilities) {
    return null;
  }
  return (
    status.capabilities[model] ?? status.unknown_model_capabilities ?? null
  );
}

/** The options the panel offers for a model. */
export interface IOfferedOptions {
  /** Thinking levels to choose from (empty: no picker). */
  thinkingLevels: string[];
  proactiveAudio: boolean;
  affectiveDialog: boolean;
  googleSearch: boolean;
  /** media_resolution (the model takes camera and screen frames). */
  mediaResolution: boolean;
}

export function offeredOptions(
  capabilities: IModelCapabilities | null
): IOfferedOptions {
  if (!capabilities) {
    return {
      thinkingLevels: [],
      proactiveAudio: false,
      affectiveDialog: false,
      googleSearch: false,
      mediaResolution: false
    };
  }
  return {
    thinkingLevels: [...(capabilities.thinking_levels ?? [])],
    proactiveAudio: capabilities.proactive_audio === 'optional',
    affectiveDialog: capabilities.affective_dialog === 'supported',
    googleSearch: !!capabilities.google_search,
    mediaResolution: !!capabilities.image_input
  };
}

/** The model options of a session request: only what the model supports and is set. */
export function modelRequest(
  prefs: IPreferences,
  status: IStatus | null
): Partial<ICreateSession> {
  const offered = offeredOptions(
    capabilitiesOf(status, chosenModel(prefs, status))
  );
  const request: Partial<ICreateSession> = {};
  if (
    prefs.thinkingLevel &&
    offered.thinkingLevels.includes(prefs.thinkingLevel)
  ) {
    request.thinking_level = prefs.thinkingLevel;
  }
  if (offered.proactiveAudio && prefs.proactiveAudio) {
    request.proactive_audio = true;
  }
  if (offered.affectiveDialog && prefs.affectiveDialog) {
    request.affective_dialog = true;
  }
  if (offered.googleSearch && prefs.googleSearch) {
    request.google_search = true;
  }
  const resolution = prefs.mediaResolution as MediaResolution;
  if (offered.mediaResolution && MEDIA_RESOLUTIONS.includes(resolution)) {
    request.media_resolution = resolution;
  }
  return request;
}
