import { ISettingRegistry } from '@jupyterlab/settingregistry';

import {
  DEFAULT_PREFERENCES,
  isTalkKey,
  readPreferences
} from '../preferences';

describe('preferences', () => {
  it('reads settings and keeps defaults for missing or mistyped values', () => {
    const settings = {
      composite: { voice: 'Kore', halfDuplex: true, pushToTalkKey: 42 }
    } as unknown as ISettingRegistry.ISettings;
    const prefs = readPreferences(settings);
    expect(prefs.voice).toBe('Kore');
    expect(prefs.halfDuplex).toBe(true);
    expect(prefs.pushToTalkKey).toBe(DEFAULT_PREFERENCES.pushToTalkKey);
    expect(readPreferences(null)).toEqual(DEFAULT_PREFERENCES);
  });

  it('matches the talk key by key or code, case-insensitively', () => {
    expect(isTalkKey({ key: 'F8', code: 'F8' }, 'f8')).toBe(true);
    expect(isTalkKey({ key: 'Alt', code: 'AltRight' }, 'AltRight')).toBe(true);
    expect(isTalkKey({ key: 'a', code: 'KeyA' }, 'F8')).toBe(false);
    expect(isTalkKey({ key: 'a', code: 'KeyA' }, '')).toBe(false);
  });
});
