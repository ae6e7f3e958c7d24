/** Palette commands to open the panel and drive a conversation. */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { microphoneIcon } from './icon';
import { IGeminiLive } from './tokens';

export const CommandIDs = {
  open: 'gemini-live:open',
  start: 'gemini-live:start',
  stop: 'gemini-live:stop',
  toggleMute: 'gemini-live:toggle-mute'
} as const;

const CATEGORY = 'Gemini Live';

/**
 * `gemini-live:start`'s optional `{ sessionId }`: join that existing session (e.g. from
 * a notebook's output or another extension) instead of the one chosen in the panel.
 */
export function joinTarget(
  args: ReadonlyPartialJSONObject
): string | undefined {
  const id = args.sessionId;
  return typeof id === 'string' && id ? id : undefined;
}

const START_ARGS = {
  type: 'object',
  properties: {
    sessionId: {
      type: 'string',
      description: 'Join this existing session (no new session is created)'
    }
  }
};

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
    commands.addCommand(CommandIDs.open, {
      label: 'Open Gemini Live',
      caption: 'Show the Gemini Live voice panel',
      icon: microphoneIcon,
      execute: () => live.open()
    });
    commands.addCommand(CommandIDs.start, {
      label: args =>
        joinTarget(args)
          ? 'Talk in Gemini Live Session'
          : 'Start Gemini Live Conversation',
      caption:
        'Start a voice conversation with Gemini (asks for the microphone)',
      describedBy: { args: START_ARGS },
      isEnabled: () => !live.active,
      execute: args => {
        live.open();
        return live.start({ sessionId: joinTarget(args) });
      }
    });
    commands.addCommand(CommandIDs.stop, {
      label: 'Stop Gemini Live Conversation',
      caption: 'End the conversation and close its session',
      isEnabled: () => live.active,
      execute: () => live.stop()
    });
    commands.addCommand(CommandIDs.toggleMute, {
      label: 'Mute Gemini Live Microphone',
      caption: 'Stop or resume sending the microphone to Gemini',
      isToggled: () => live.muted,
      execute: () => live.toggleMute()
    });
    live.changed.connect(() => commands.notifyCommandChanged());
    for (const command of Object.values(CommandIDs)) {
      palette?.addItem({ command, category: CATEGORY });
    }
  }
};
