/** The sidebar panel: created once, placed in the left or right area. */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { PathExt } from '@jupyterlab/coreutils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { microphoneIcon } from './icon';
import { LivePanelModel } from './panel/panel-model';
import { browserEnvironment } from './panel/preflight';
import { LivePanel } from './panel/widget';
import { IPreferences, readPreferences } from './preferences';
import { IGeminiLive } from './tokens';

export const PANEL_PLUGIN_ID = 'jupyter-gemini-live:plugin';

export const panelPlugin: JupyterFrontEndPlugin<IGeminiLive> = {
  id: PANEL_PLUGIN_ID,
  description: 'Voice conversations with Gemini in a sidebar panel.',
  autoStart: true,
  provides: IGeminiLive,
  optional: [
    ISettingRegistry,
    IDefaultFileBrowser,
    ILayoutRestorer,
    ILabShell,
    ITranslator,
    INotebookTracker
  ],
  activate: async (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null,
    browser: IDefaultFileBrowser | null,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null,
    translator: ITranslator | null,
    notebooks: INotebookTracker | null
  ): Promise<IGeminiLive> => {
    const settings = await loadSettings(registry);
    translator = translator ?? nullTranslator;
    const model = new LivePanelModel({
      translator,
      preflight: browserEnvironment(app.serviceManager.serverSettings),
      insertCells: notebooks
        ? cells => insertMarkdownCells(notebooks, cells)
        : undefined,
      saveFile: async (name, content) => {
        const path = PathExt.join(browser?.model.path ?? '', name);
        await app.serviceManager.contents.save(path, {
          type: 'file',
          format: 'text',
          content
        });
        return path;
      },
      persist: prefs => void storePreferences(settings, prefs)
    });
    const prefs = readPreferences(settings);
    model.setPreferences(prefs, true);
    settings?.changed.connect(() =>
      model.setPreferences(readPreferences(settings), true)
    );

    const panel = new LivePanel(model);
    panel.title.icon = microphoneIcon;
    panel.title.caption = model.trans.__('Gemini Live');
    app.shell.add(panel, prefs.position, { rank: 900 });
    restorer?.add(panel, panel.id);
    void model.refreshStatus().then(() => model.resume());
    void model.checkPreflight();
    return geminiLive(model, () => app.shell.activateById(panel.id));
  }
};

/**
 * Markdown cells after the active cell of the current notebook (at its end when none is
 * active); returns the notebook's path, or null when no notebook is open.
 */
async function insertMarkdownCells(
  notebooks: INotebookTracker,
  cells: string[]
): Promise<string | null> {
  const panel = notebooks.currentWidget;
  const shared = panel?.content.model?.sharedModel;
  if (!panel || !shared) {
    return null;
  }
  const active = panel.content.activeCellIndex;
  const at = active >= 0 ? active + 1 : shared.cells.length;
  shared.insertCells(
    at,
    cells.map(source => ({ cell_type: 'markdown', source }))
  );
  return panel.context.path;
}

/** The token's view of the panel: what other plugins may read and do. */
export function geminiLive(
  model: LivePanelModel,
  open: () => void
): IGeminiLive {
  return {
    get sessionId() {
      return model.sessionId;
    },
    get active() {
      return model.active;
    },
    get joined() {
      return model.joined;
    },
    get muted() {
      return model.muted;
    },
    get session() {
      return model.sessionInfo;
    },
    changed: model.changed,
    serverEvent: model.conversation.event,
    open,
    start: options => model.start(options),
    stop: () => model.stop(),
    toggleMute: () => model.toggleMute(),
    sendToolResponse: response => model.conversation.send(response),
    addSection: element => model.addSection(element)
  };
}

async function loadSettings(
  registry: ISettingRegistry | null
): Promise<ISettingRegistry.ISettings | null> {
  if (!registry) {
    return null;
  }
  try {
    return await registry.load(PANEL_PLUGIN_ID);
  } catch (error) {
    console.warn('gemini-live: settings unavailable, using defaults', error);
    return null;
  }
}

/** Keep the panel's pickers across reloads; only keys whose value changed are written. */
async function storePreferences(
  settings: ISettingRegistry.ISettings | null,
  prefs: IPreferences
): Promise<void> {
  if (!settings) {
    return;
  }
  const current = readPreferences(settings);
  for (const key of Object.keys(prefs) as (keyof IPreferences)[]) {
    if (prefs[key] !== current[key]) {
      await settings
        .set(key, prefs[key])
        .catch(error => console.warn('gemini-live:', error));
    }
  }
}
