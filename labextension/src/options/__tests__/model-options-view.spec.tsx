import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import { until } from '../../panel/__tests__/fakes';
import { DEFAULT_PREFERENCES, IPreferences } from '../../preferences';
import { ModelOptions } from '../model-options-view';
import { STATUS } from './capabilities-fixture';

const trans = nullTranslator.load('jupyter_gemini_live');

async function render(
  prefs: Partial<IPreferences>,
  set = jest.fn()
): Promise<HTMLElement> {
  const widget = ReactWidget.create(
    <ModelOptions
      prefs={{ ...DEFAULT_PREFERENCES, ...prefs }}
      status={STATUS}
      trans={trans}
      disabled={false}
      setPreferences={set}
    />
  );
  Widget.attach(widget, document.body);
  widget.update();
  await until(() => widget.node.childElementCount > 0, 'the options');
  return widget.node;
}

const testid = (host: HTMLElement, id: string) =>
  host.querySelector(`[data-testid="gemini-live-${id}"]`);

describe('ModelOptions', () => {
  it('gemini-3.8-live: no thinking picker, search and resolution offered', async () => {
    const host = await render({ model: 'gemini-3.8-live' });
    expect(testid(host, 'thinking-level')).toBeNull();
    expect(testid(host, 'proactive-audio')).toBeNull();
    expect(testid(host, 'affective-dialog')).toBeNull();
    expect(testid(host, 'google-search')).not.toBeNull();
    expect(testid(host, 'media-resolution')).not.toBeNull();
  });

  it('extended thinking: a picker with its levels', async () => {
    const host = await render({ model: 'gemini-3.8-live-extended-thinking' });
    const select = testid(host, 'thinking-level') as HTMLSelectElement;
    const values = Array.from(select.options).map(o => o.value);
    expect(values).toEqual(['', 'low', 'medium', 'high']);
  });

  it('2.5 native audio: proactive audio and affective dialog toggles', async () => {
    const set = jest.fn();
    const host = await render(
      { model: 'gemini-2.5-flash-native-audio-preview-12-2025' },
      set
    );
    const box = testid(host, 'proactive-audio') as HTMLInputElement;
    expect(testid(host, 'affective-dialog')).not.toBeNull();
    box.click();
    expect(set).toHaveBeenCalledWith({ proactiveAudio: true });
  });
});
