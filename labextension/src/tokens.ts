import { Token } from '@lumino/coreutils';

import { LiveController } from './panel/controller';
import { LivePanel } from './panel/widget';

/** The Gemini Live panel and its controller, for the commands plugin (and others). */
export interface IGeminiLive {
  readonly panel: LivePanel;
  readonly controller: LiveController;
  /** Show the panel in its sidebar. */
  open(): void;
}

export const IGeminiLive = new Token<IGeminiLive>(
  'jupyter-gemini-live:IGeminiLive',
  'The Gemini Live voice panel.'
);
