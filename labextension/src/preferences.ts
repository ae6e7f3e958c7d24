/** The user's preferences (settings registry), with their defaults. */
import { ISettingRegistry } from '@jupyterlab/settingregistry';

export interface IPreferences {
  backend: string;
  model: string;
  voice: string;
  systemInstruction: string;
  pushToTalk: boolean;
  pushToTalkKey: string;
  halfDuplex: boolean;
  position: 'left' | 'right';
  /** Model options, sent only when the chosen model supports them ('' / false: not sent). */
  thinkingLevel: string;
  proactiveAudio: boolean;
  affectiveDialog: boolean;
  googleSearch: boolean;
  mediaResolution: string;
  /** New sessions get the notebook tools ("Let Gemini see and edit this notebook"). */
  notebookTools: boolean;
}

export const DEFAULT_PREFERENCES: IPreferences = {
  backend: '',
  model: '',
  voice: '',
  systemInstruction: '',
  pushToTalk: false,
  pushToTalkKey: 'F8',
  halfDuplex: false,
  position: 'right',
  thinkingLevel: '',
  proactiveAudio: false,
  affectiveDialog: false,
  googleSearch: false,
  mediaResolution: '',
  notebookTools: false
};

/** Read the composite settings, keeping defaults for anything missing or mistyped. */
export function readPreferences(
  settings: ISettingRegistry.ISettings | null
): IPreferences {
  const result: IPreferences = { ...DEFAULT_PREFERENCES };
  if (!settings) {
    return result;
  }
  const composite = settings.composite as Record<string, unknown>;
  for (const key of Object.keys(
    DEFAULT_PREFERENCES
  ) as (keyof IPreferences)[]) {
    const value = composite[key];
    if (typeof value === typeof DEFAULT_PREFERENCES[key]) {
      (result as unknown as Record<string, unknown>)[key] = value;
    }
  }
  return result;
}

/** Does a keyboard event match the push-to-talk key (by `key` or by `code`)? */
export function isTalkKey(
  event: Pick<KeyboardEvent, 'key' | 'code'>,
  talkKey: string
): boolean {
  const wanted = talkKey.trim().toLowerCase();
  return (
    wanted !== '' &&
    (event.key.toLowerCase() === wanted || event.code.toLowerCase() === wanted)
  );
}
