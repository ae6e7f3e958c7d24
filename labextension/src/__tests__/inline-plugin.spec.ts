import { JupyterFrontEnd } from '@jupyterlab/application';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommandRegistry } from '@lumino/commands';

import { inlinePlugin } from '../inline-plugin';
import { SessionCard } from '../inline/card';
import { SESSION_MIME_TYPE } from '../inline/data';

// Only the registry token is needed; the real module probes a clipboard jsdom lacks.
jest.mock('@jupyterlab/rendermime', () => ({ IRenderMimeRegistry: {} }));

describe('inline plugin', () => {
  it('registers the session card ahead of other renderers', () => {
    const addFactory = jest.fn();
    const app = {
      commands: new CommandRegistry()
    } as unknown as JupyterFrontEnd;
    inlinePlugin.activate(
      app,
      { addFactory } as unknown as IRenderMimeRegistry,
      null
    );
    const [factory, rank] = addFactory.mock.calls[0];
    expect(rank).toBe(0);
    expect(factory.mimeTypes).toEqual([SESSION_MIME_TYPE]);
    const card = factory.createRenderer({ mimeType: SESSION_MIME_TYPE });
    expect(card).toBeInstanceOf(SessionCard);
    card.dispose();
  });
});
