/** The panel's side of the notebook tools: the toggle, the session's flags, the prompt's place. */
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import * as api from '../../api';
import { FakeDevices, STATUS, until } from '../../panel/__tests__/fakes';
import { LivePanelModel, sessionRequest } from '../../panel/panel-model';
import { LivePanel } from '../../panel/widget';
import { DEFAULT_PREFERENCES } from '../../preferences';

const session = (overrides: Partial<api.ISession> = {}) =>
  ({
    id: 'nb-1',
    model: 'async-model',
    state: 'live',
    notebook: true,
    device_connected: false,
    activity_detection: 'auto',
    ...overrides
  }) as api.ISession;

function model(devices: FakeDevices): LivePanelModel {
  devices.server.getStatus.mockResolvedValue({
    ...STATUS,
    capabilities: {
      'async-model': {
        async_function_calling: true,
        behaviors: ['BLOCKING', 'NON_BLOCKING']
      } as api.IModelCapabilities,
      'blocking-model': {
        async_function_calling: false
      } as api.IModelCapabilities
    }
  });
  return new LivePanelModel({
    saveFile: jest.fn(),
    storage: null,
    ...devices.options
  });
}

describe('the notebook tools in the panel', () => {
  it('creates sessions with notebook: true only when the toggle is on', () => {
    expect(sessionRequest(DEFAULT_PREFERENCES).notebook).toBeUndefined();
    expect(
      sessionRequest({ ...DEFAULT_PREFERENCES, notebookTools: true }).notebook
    ).toBe(true);
  });

  it('knows a joined session has the notebook tools, and whether its model is async', async () => {
    const devices = new FakeDevices();
    const panel = model(devices);
    await panel.refreshStatus();
    expect(panel.sessionInfo).toBeNull();
    devices.server.getSession.mockResolvedValue(session());
    await panel.start({ sessionId: 'nb-1' });
    expect(panel.sessionInfo).toEqual({
      id: 'nb-1',
      notebook: true,
      asyncTools: true
    });
    await panel.stop();
    expect(panel.sessionInfo).toBeNull();
  });

  it('sees a blocking model and a session without notebook tools as such', async () => {
    const devices = new FakeDevices();
    const panel = model(devices);
    await panel.refreshStatus();
    devices.server.createSession.mockResolvedValue(
      session({ notebook: false, model: 'blocking-model' })
    );
    await panel.start();
    expect(panel.sessionInfo).toEqual({
      id: 'nb-1',
      notebook: false,
      asyncTools: false
    });
  });

  it('has the toggle in the session options, remembered as a preference', async () => {
    const persist = jest.fn();
    const devices = new FakeDevices();
    const panel = new LivePanelModel({
      saveFile: jest.fn(),
      storage: null,
      persist,
      ...devices.options
    });
    const widget = new LivePanel(panel);
    Widget.attach(widget, document.body);
    widget.update();
    const find = () =>
      widget.node.querySelector('[data-testid="gemini-live-notebook-tools"]');
    await until(() => !!find(), 'the notebook toggle');
    const toggle = find() as HTMLInputElement;
    expect(toggle.parentElement!.textContent).toBe(
      'Let Gemini see and edit this notebook'
    );
    expect(toggle.checked).toBe(false);
    toggle.click();
    expect(panel.prefs.notebookTools).toBe(true);
    expect(persist).toHaveBeenCalledWith(
      expect.objectContaining({ notebookTools: true })
    );
    widget.dispose();
  });

  it('shows sections until they are disposed', () => {
    const panel = model(new FakeDevices());
    const element = React.createElement('div');
    const section = panel.addSection(element);
    expect(panel.sections).toEqual([element]);
    section.dispose();
    expect(panel.sections).toEqual([]);
  });

  it('keeps quiet about a tool answer the server refused as already answered', async () => {
    const devices = new FakeDevices();
    const panel = model(devices);
    await panel.refreshStatus();
    devices.server.createSession.mockResolvedValue(session());
    await panel.start();
    devices.stream.open();
    const before = panel.message;
    devices.stream.emit({
      type: 'error',
      code: 'unknown_tool_call',
      message: 'tool call x is not pending',
      fatal: false
    });
    expect(panel.message).toBe(before);
    devices.stream.emit({
      type: 'error',
      code: 'bad_field',
      message: 'nope',
      fatal: false
    });
    expect(panel.message).toBe('nope (bad_field)');
  });
});
