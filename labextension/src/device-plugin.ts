/**
 * Notebook outputs of `RunningLiveAudio` render as the inline device: this browser's
 * microphone and speaker for the kernel's relay session.
 *
 * Like the session card (inline-plugin.ts), a plain plugin that adds a factory to the
 * application's IRenderMimeRegistry, so it works the same in JupyterLab 4 and Notebook 7.
 * Not `safe`: an untrusted notebook shows the text/plain fallback instead of a button
 * that streams the microphone to a session named by the file.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IRenderMime, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { TRANSLATION_DOMAIN } from './audio/microphone';
import { DEVICE_MIME_TYPE } from './device/data';
import { DeviceWidget, IDeviceWidgetOptions } from './device/widget';

export const DEVICE_PLUGIN_ID = 'jupyter-gemini-live:device';

export function deviceRendererFactory(
  translator: ITranslator | null,
  options: IDeviceWidgetOptions = {}
): IRenderMime.IRendererFactory {
  const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  return {
    safe: false,
    mimeTypes: [DEVICE_MIME_TYPE],
    defaultRank: 0,
    createRenderer: () => new DeviceWidget({ ...options, trans })
  };
}

export const devicePlugin: JupyterFrontEndPlugin<void> = {
  id: DEVICE_PLUGIN_ID,
  description:
    "Shows the inline audio device of a kernel's RunningLiveAudio in notebook outputs.",
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ITranslator],
  activate: (
    _app,
    registry: IRenderMimeRegistry,
    translator: ITranslator | null
  ) => {
    registry.addFactory(deviceRendererFactory(translator), 0);
  }
};
