import { JupyterFrontEnd } from '@jupyterlab/application';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { devicePlugin } from '../device-plugin';
import { DEVICE_MIME_TYPE } from '../device/data';
import { DeviceWidget } from '../device/widget';

// Only the registry token is needed; the real module probes a clipboard jsdom lacks.
jest.mock('@jupyterlab/rendermime', () => ({ IRenderMimeRegistry: {} }));

describe('device plugin', () => {
  it('registers the inline device, safe (a running cell output is untrusted), translated', () => {
    const addFactory = jest.fn();
    const load = jest.fn((domain: string) => nullTranslator.load(domain));
    devicePlugin.activate(
      {} as JupyterFrontEnd,
      { addFactory } as unknown as IRenderMimeRegistry,
      { load } as unknown as ITranslator
    );
    const [factory, rank] = addFactory.mock.calls[0];
    expect(rank).toBe(0);
    expect(factory.safe).toBe(true);
    expect(factory.mimeTypes).toEqual([DEVICE_MIME_TYPE]);
    expect(load).toHaveBeenCalledWith('jupyter_gemini_live');
    const widget = factory.createRenderer({ mimeType: DEVICE_MIME_TYPE });
    expect(widget).toBeInstanceOf(DeviceWidget);
    widget.dispose();
  });
});
