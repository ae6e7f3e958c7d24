import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { commandsPlugin } from './commands-plugin';
import { devicePlugin } from './device-plugin';
import { inlinePlugin } from './inline-plugin';
import { notebookPlugin } from './notebook-plugin';
import { panelPlugin } from './panel-plugin';

export { CommandIDs } from './commands-plugin';
export { IGeminiLive } from './tokens';
export { SESSION_MIME_TYPE } from './inline/data';
export { DEVICE_MIME_TYPE } from './device/data';

const plugins: JupyterFrontEndPlugin<any>[] = [
  panelPlugin,
  commandsPlugin,
  inlinePlugin,
  devicePlugin,
  notebookPlugin
];

export default plugins;

// The worklet module sources, for other renderers (and the bundle check, which
// evaluates them from the minified build).
export {
  captureModuleSource,
  playbackModuleSource
} from './audio/worklet-source';
