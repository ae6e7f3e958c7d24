/**
 * Notebook outputs of `RunningLiveAudio` render as the inline device: this browser's
 * microphone and speaker for the kernel's relay session.
 *
 * Like the session card (inline-plugin.ts), a plain plugin that adds a factory to the
 * application's IRenderMimeRegistry, so it works the same in JupyterLab 4 and Notebook 7.
 * `safe` like the session card: it is text and buttons that act only on a click. It must
 * be: the output of a cell still running in an untrusted notebook (every notebook a user
 * did not write, or one opened from disk) is untrusted until the cell finishes, and
 * `RunningLiveAudio` waits in its cell for "Start microphone" to be pressed.
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
    safe: true,
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
