/**
 * Notebook outputs of `%gemini_live start` / `attach` render as a session card.
 *
 * A plain plugin that adds a factory to the application's IRenderMimeRegistry (rather
 * than a mimeExtension) because the card needs the app's commands and the panel's
 * conversation; it works the same in JupyterLab 4 and Notebook 7, which both provide
 * the registry. Rank 0 puts it ahead of the bundle's text/plain fallback.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IRenderMime, IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { SessionCard } from './inline/card';
import { SESSION_MIME_TYPE } from './inline/data';
import { IGeminiLive } from './tokens';

export const INLINE_PLUGIN_ID = 'jupyter-gemini-live:inline';

export function sessionCardFactory(
  app: JupyterFrontEnd,
  live: IGeminiLive | null
): IRenderMime.IRendererFactory {
  return {
    // Only text and a button that acts on a click: fine in untrusted notebooks.
    safe: true,
    mimeTypes: [SESSION_MIME_TYPE],
    defaultRank: 0,
    createRenderer: () =>
      new SessionCard({
        commands: app.commands,
        device: live
      })
  };
}

export const inlinePlugin: JupyterFrontEndPlugin<void> = {
  id: INLINE_PLUGIN_ID,
  description: 'Shows Gemini Live sessions in notebook outputs as a card.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [IGeminiLive],
  activate: (
    app: JupyterFrontEnd,
    registry: IRenderMimeRegistry,
    live: IGeminiLive | null
  ) => {
    registry.addFactory(sessionCardFactory(app, live), 0);
  }
};
