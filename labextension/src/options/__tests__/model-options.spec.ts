import { IStatus } from '../../api';
import { sessionRequest } from '../../panel/panel-model';
import { DEFAULT_PREFERENCES, IPreferences } from '../../preferences';
import {
  capabilitiesOf,
  chosenModel,
  modelRequest,
  offeredOptions
} from '../model-options';
import { base, CAPABILITIES, STATUS } from './capabilities-fixture';

const everything: IPreferences = {
  ...DEFAULT_PREFERENCES,
  thinkingLevel: 'high',
  proactiveAudio: true,
  affectiveDialog: true,
  googleSearch: true,
  mediaResolution: 'low'
};

const prefsFor = (model: string): IPreferences => ({ ...everything, model });

describe('capabilities', () => {
  it('uses the chosen model, else the server default', () => {
    expect(chosenModel({ model: '' }, STATUS)).toBe('gemini-3.8-live');
    expect(chosenModel({ model: ' x ' }, STATUS)).toBe('x');
  });

  it('gives an unknown model the conservative profile', () => {
    expect(capabilitiesOf(STATUS, 'my-tuned-model')).toEqual({
      ...base,
      known: false
    });
  });

  it('offers nothing when the server has no table', () => {
    const old = { default_model: 'm' } as IStatus;
    expect(capabilitiesOf(old, 'm')).toBeNull();
    expect(modelRequest(prefsFor('m'), old)).toEqual({});
  });
});

describe('offeredOptions', () => {
  it('gemini-3.8-live: no thinking level, no proactive audio or affective dialog', () => {
    const offered = offeredOptions(CAPABILITIES['gemini-3.8-live']);
    expect(offered).toEqual({
      thinkingLevels: [],
      proactiveAudio: false,
      affectiveDialog: false,
      googleSearch: true,
      mediaResolution: true
    });
  });

  it('extended thinking: its own levels', () => {
    const offered = offeredOptions(
      CAPABILITIES['gemini-3.8-live-extended-thinking']
    );
    expect(offered.thinkingLevels).toEqual(['low', 'medium', 'high']);
  });

  it('2.5 native audio: proactive audio and affective dialog', () => {
    const offered = offeredOptions(
      CAPABILITIES['gemini-2.5-flash-native-audio-preview-12-2025']
    );
    expect(offered.proactiveAudio).toBe(true);
    expect(offered.affectiveDialog).toBe(true);
    expect(offered.thinkingLevels).toEqual([]);
  });

  it('no search nor images when the model has none', () => {
    const offered = offeredOptions({
      ...base,
      google_search: false,
      image_input: false
    });
    expect(offered.googleSearch).toBe(false);
    expect(offered.mediaResolution).toBe(false);
  });
});

describe('the session request carries only what the model supports', () => {
  it('gemini-3.8-live', () => {
    expect(modelRequest(prefsFor('gemini-3.8-live'), STATUS)).toEqual({
      google_search: true,
      media_resolution: 'low'
    });
  });

  it('the server default model when none is chosen', () => {
    expect(modelRequest(prefsFor(''), STATUS)).toEqual({
      google_search: true,
      media_resolution: 'low'
    });
  });

  it('extended thinking takes high, not minimal', () => {
    const model = 'gemini-3.8-live-extended-thinking';
    expect(modelRequest(prefsFor(model), STATUS).thinking_level).toBe('high');
    const minimal = { ...prefsFor(model), thinkingLevel: 'minimal' };
    expect(modelRequest(minimal, STATUS).thinking_level).toBeUndefined();
  });

  it('2.5 native audio: proactive audio and affective dialog, no thinking level', () => {
    const request = modelRequest(
      prefsFor('gemini-2.5-flash-native-audio-preview-12-2025'),
      STATUS
    );
    expect(request).toEqual({
      proactive_audio: true,
      affective_dialog: true,
      google_search: true,
      media_resolution: 'low'
    });
  });

  it('nothing set, nothing sent', () => {
    const prefs = {
      ...DEFAULT_PREFERENCES,
      model: 'gemini-3.1-flash-live-preview'
    };
    expect(modelRequest(prefs, STATUS)).toEqual({});
  });

  it('sessionRequest merges them into the POST body', () => {
    const request = sessionRequest(
      prefsFor('gemini-3.8-live-extended-thinking'),
      STATUS
    );
    expect(request).toMatchObject({
      model: 'gemini-3.8-live-extended-thinking',
      thinking_level: 'high',
      google_search: true
    });
    expect(request).not.toHaveProperty('proactive_audio');
    expect(request).not.toHaveProperty('affective_dialog');
  });
});
