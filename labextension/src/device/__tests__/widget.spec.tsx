import { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { ISession } from '../../api';
import { FakeDevices, tick, until } from '../../panel/__tests__/fakes';
import { DEVICE_MIME_TYPE, parseDeviceData } from '../data';
import { DeviceWidget } from '../widget';

const DATA = { session_id: 'relay-1', sample_rate: 16000, label: 'Kernel mic' };

let devices: FakeDevices;

beforeEach(() => {
  devices = new FakeDevices();
  devices.server.getSession.mockResolvedValue({
    id: 'relay-1',
    backend: 'relay',
    activity_detection: 'auto',
    state: 'live',
    device_connected: false
  } as ISession);
});

const mime = (data: unknown) =>
  ({ data: { [DEVICE_MIME_TYPE]: data } }) as unknown as IRenderMime.IMimeModel;

async function rendered(data: unknown = DATA): Promise<DeviceWidget> {
  const widget = new DeviceWidget(devices.options);
  Widget.attach(widget, document.body);
  await widget.renderModel(mime(data));
  return widget;
}

const byTestId = (widget: Widget, id: string) =>
  widget.node.querySelector<HTMLButtonElement>(`[data-testid="${id}"]`);

describe('DeviceWidget', () => {
  it('shows the labelled buttons, the meter and a live status line', async () => {
    const widget = await rendered();
    await until(
      () => !!byTestId(widget, 'gemini-live-device-start'),
      'the Start button'
    );
    expect(widget.node.dataset.testid).toBe('gemini-live-device');
    expect(widget.node.dataset.sessionId).toBe('relay-1');
    expect(widget.node.dataset.state).toBe('idle');
    const start = byTestId(widget, 'gemini-live-device-start')!;
    const stop = byTestId(widget, 'gemini-live-device-stop')!;
    expect(start.textContent).toBe('Start microphone');
    expect(start.disabled).toBe(false);
    expect(stop.textContent).toBe('Stop');
    expect(stop.disabled).toBe(true);
    const status = byTestId(widget, 'gemini-live-device-status')!;
    expect(status.getAttribute('aria-live')).toBe('polite');
    expect(status.getAttribute('role')).toBe('status');
    const meter = byTestId(widget, 'gemini-live-device-meter')!;
    expect(meter.getAttribute('role')).toBe('meter');
    expect(meter.getAttribute('aria-label')).toBe('Microphone level');
    expect(widget.node.textContent).toContain('Kernel mic');
    widget.dispose();
  });

  it('Start microphone goes live; Stop stops; the root says so', async () => {
    const widget = await rendered();
    await until(
      () => !!byTestId(widget, 'gemini-live-device-start'),
      'the Start button'
    );
    byTestId(widget, 'gemini-live-device-start')!.click();
    expect(widget.node.dataset.state).toBe('starting');
    await until(() => devices.streams.length === 1, 'the stream');
    devices.stream.open();
    expect(widget.node.dataset.state).toBe('live');
    await until(
      () => !byTestId(widget, 'gemini-live-device-stop')!.disabled,
      'Stop to be enabled'
    );
    byTestId(widget, 'gemini-live-device-stop')!.click();
    await until(
      () => widget.node.dataset.state === 'stopped',
      'the stopped state'
    );
    expect(devices.audio.close).toHaveBeenCalled();
    widget.dispose();
  });

  it('keeps its microphone across a re-render of the same output, not another', async () => {
    const widget = await rendered();
    const first = widget.model;
    await widget.renderModel(mime(DATA));
    expect(widget.model).toBe(first);
    await widget.renderModel(mime({ ...DATA, session_id: 'other' }));
    expect(widget.model).not.toBe(first);
    expect(first?.isDisposed).toBe(true);
    widget.dispose();
    expect(widget.model).toBeNull();
  });

  it('explains data it cannot use', async () => {
    const widget = await rendered({ session_id: 'x' });
    expect(widget.node.dataset.state).toBe('failed');
    await until(
      () => /sample_rate/.test(widget.node.textContent ?? ''),
      'the message naming sample_rate'
    );
    widget.dispose();
    await tick();
  });
});

describe('parseDeviceData', () => {
  it('accepts the kernel bundle and refuses anything else', () => {
    expect(parseDeviceData(DATA)).toEqual({ ok: true, data: DATA });
    expect(
      parseDeviceData({ session_id: 'a', sample_rate: 24000 } as any)
    ).toEqual({
      ok: true,
      data: { session_id: 'a', sample_rate: 24000, label: '' }
    });
    expect(parseDeviceData(null).ok).toBe(false);
    expect(parseDeviceData([]).ok).toBe(false);
    expect(parseDeviceData({ ...DATA, session_id: '' }).ok).toBe(false);
    expect(parseDeviceData({ ...DATA, sample_rate: 0 }).ok).toBe(false);
    expect(parseDeviceData({ ...DATA, sample_rate: 1.5 }).ok).toBe(false);
    expect(parseDeviceData({ ...DATA, label: 3 }).ok).toBe(false);
  });
});
