/** Palette commands to open the panel and drive a conversation. */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';

import { microphoneIcon } from './icon';
import { IGeminiLive } from './tokens';

export const CommandIDs = {
  open: 'gemini-live:open',
  start: 'gemini-live:start',
  stop: 'gemini-live:stop',
  toggleMute: 'gemini-live:toggle-mute'
} as const;

const CATEGORY = 'Gemini Live';

export const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-gemini-live:commands',
  description: 'Commands of the Gemini Live panel.',
  autoStart: true,
  requires: [IGeminiLive],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    live: IGeminiLive,
    palette: ICommandPalette | null
  ) => {
    const { commands } = app;
    const controller = live.controller;
    commands.addCommand(CommandIDs.open, {
      label: 'Open Gemini Live',
      caption: 'Show the Gemini Live voice panel',
      icon: microphoneIcon,
      execute: () => live.open()
    });
    commands.addCommand(CommandIDs.start, {
      label: 'Start Gemini Live Conversation',
      caption:
        'Start a voice conversation with Gemini (asks for the microphone)',
      isEnabled: () => !controller.active,
      execute: () => {
        live.open();
        return controller.start();
      }
    });
    commands.addCommand(CommandIDs.stop, {
      label: 'Stop Gemini Live Conversation',
      caption: 'End the conversation and close its session',
      isEnabled: () => controller.active,
      execute: () => controller.stop()
    });
    commands.addCommand(CommandIDs.toggleMute, {
      label: 'Mute Gemini Live Microphone',
      caption: 'Stop or resume sending the microphone to Gemini',
      isToggled: () => controller.muted,
      execute: () => controller.toggleMute()
    });
    controller.changed.connect(() => commands.notifyCommandChanged());
    for (const command of Object.values(CommandIDs)) {
      palette?.addItem({ command, category: CATEGORY });
    }
  }
};
