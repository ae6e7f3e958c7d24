/**
 * Talk to your notebook: the notebook tools, run by the panel against the notebook
 * the user is looking at, for sessions made with `notebook: true` (the panel's toggle,
 * or `%gemini_live start --notebook` joined from the card); the approval prompt in the
 * panel; the marks of the cells the model wrote.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { ApprovalQueue } from './notebook/approval';
import { ApprovalView } from './notebook/approval-view';
import { followMarks } from './notebook/marks';
import { PanelNotebook } from './notebook/panel-access';
import { NotebookToolRunner } from './notebook/runner';
import { NotebookTools } from './notebook/tools';
import { PANEL_PLUGIN_ID } from './panel-plugin';
import { TRANSLATION_DOMAIN } from './panel/status-text';
import { IGeminiLive } from './tokens';

export const NOTEBOOK_PLUGIN_ID = 'jupyter-gemini-live:notebook-tools';

export const notebookPlugin: JupyterFrontEndPlugin<void> = {
  id: NOTEBOOK_PLUGIN_ID,
  description:
    'Lets Gemini read, edit and run the open notebook, with the user approving.',
  autoStart: true,
  requires: [IGeminiLive, INotebookTracker, ISettingRegistry, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    live: IGeminiLive,
    notebooks: INotebookTracker,
    registry: ISettingRegistry,
    translator: ITranslator
  ) => {
    const trans = translator.load(TRANSLATION_DOMAIN);
    const settings = await registry.load(PANEL_PLUGIN_ID).catch(() => null);
    const approvals = new ApprovalQueue();
    const tools = new NotebookTools({
      notebook: () => {
        const panel = notebooks.currentWidget;
        return panel ? new PanelNotebook(panel) : null;
      },
      approvals,
      confirm: () => settings?.composite.confirmNotebookChanges !== false
    });
    const runner = new NotebookToolRunner(
      {
        get session() {
          return live.session;
        },
        sendToolResponse: response => live.sendToolResponse(response)
      },
      tools,
      () => approvals.withdrawAll()
    );
    live.serverEvent.connect((_, event) => runner.handle(event));
    live.changed.connect(() => runner.sync());
    live.addSection(
      React.createElement(ApprovalView, { queue: approvals, trans })
    );
    followMarks(notebooks);
  }
};
