import { JupyterFrontEnd } from '@jupyterlab/application';
import { CommandRegistry } from '@lumino/commands';

import { CommandIDs, commandsPlugin, joinTarget } from '../commands-plugin';
import { IGeminiLive } from '../tokens';

// Only the palette token is needed; the real module probes a clipboard jsdom lacks.
jest.mock('@jupyterlab/apputils', () => ({ ICommandPalette: {} }));

function activate() {
  const commands = new CommandRegistry();
  const controller = {
    sessionId: null,
    active: false,
    joined: false,
    muted: false,
    open: jest.fn(),
    start: jest.fn(async () => undefined),
    stop: jest.fn(async () => undefined),
    toggleMute: jest.fn(),
    changed: { connect: jest.fn() }
  };
  const live = controller as unknown as IGeminiLive;
  commandsPlugin.activate(
    { commands } as unknown as JupyterFrontEnd,
    live,
    null
  );
  return { commands, controller, live };
}

describe('gemini-live:start', () => {
  it('joins the session given as { sessionId }', async () => {
    const { commands, controller, live } = activate();
    await commands.execute(CommandIDs.start, { sessionId: 'abc' });
    expect(live.open).toHaveBeenCalled();
    expect(controller.start).toHaveBeenCalledWith({ sessionId: 'abc' });
    expect(commands.label(CommandIDs.start, { sessionId: 'abc' })).toMatch(
      /Talk in/
    );
  });

  it('without an argument starts as the panel is set', async () => {
    const { commands, controller } = activate();
    await commands.execute(CommandIDs.start);
    expect(controller.start).toHaveBeenCalledWith({ sessionId: undefined });
    expect(commands.label(CommandIDs.start)).toBe(
      'Start Gemini Live Conversation'
    );
  });

  it('ignores a sessionId that is not a non-empty string', () => {
    expect(joinTarget({ sessionId: 42 })).toBeUndefined();
    expect(joinTarget({ sessionId: '' })).toBeUndefined();
    expect(joinTarget({ sessionId: 'x' })).toBe('x');
  });
});
