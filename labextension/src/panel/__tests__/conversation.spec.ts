import { ISession } from '../../api';
import { Conversation } from '../conversation';
import { FakeDevices, STATUS } from './fakes';

let devices: FakeDevices;

beforeEach(() => {
  devices = new FakeDevices();
  devices.server.createSession.mockResolvedValue({ id: 'sid' } as ISession);
});

async function live(manual = false): Promise<Conversation> {
  const conversation = new Conversation(devices.options);
  await conversation.start({
    create: { activity_detection: manual ? 'manual' : 'auto' },
    audioFormat: async () => STATUS.audio
  });
  devices.stream.open();
  return conversation;
}

const rows = (c: Conversation) =>
  c.transcript.items.map(r => [r.role, r.turn, r.text, r.typed ?? null]);

const sentText = () => {
  const frame = devices.stream.sent.find(m => m.type === 'text');
  return frame as { type: 'text'; text: string; id: string };
};

describe('Conversation: typed text', () => {
  it('shows typed text in no turn until the server places it', async () => {
    const c = await live();
    await c.sendText('what time is it?');
    const frame = sentText();
    expect(frame.text).toBe('what time is it?');
    expect(frame.id).toMatch(/^.{1,64}$/);
    expect(rows(c)).toEqual([['user', null, 'what time is it?', 'pending']]);
    devices.stream.emit({ type: 'text_accepted', id: frame.id, turn: 1 });
    expect(rows(c)).toEqual([['user', 1, 'what time is it?', null]]);
  });

  it('spoken words, then text before the reply: one row, in the turn the server says', async () => {
    const c = await live();
    const s = devices.stream;
    s.emit({
      type: 'transcript',
      role: 'user',
      text: 'hello',
      turn: 1,
      final: false,
      interrupted: false
    });
    await c.sendText('and the weather');
    // The server took it into the user's words of turn 1 (the model had not spoken).
    s.emit({ type: 'text_accepted', id: sentText().id, turn: 1 });
    s.emit({
      type: 'transcript',
      role: 'user',
      text: 'hello and the weather',
      turn: 1,
      final: true,
      interrupted: false
    });
    s.emit({
      type: 'transcript',
      role: 'model',
      text: 'Sunny.',
      turn: 1,
      final: true,
      interrupted: false
    });
    expect(rows(c)).toEqual([
      ['user', 1, 'hello and the weather', null],
      ['model', 1, 'Sunny.', null]
    ]);
  });

  it('after the model spoke, the server opens the next turn: the text goes there', async () => {
    const c = await live();
    const s = devices.stream;
    s.emit({
      type: 'transcript',
      role: 'model',
      text: 'Hi!',
      turn: 1,
      final: true,
      interrupted: false
    });
    await c.sendText('next');
    s.emit({
      type: 'transcript',
      role: 'user',
      text: 'next',
      turn: 2,
      final: true,
      interrupted: false
    });
    s.emit({ type: 'text_accepted', id: sentText().id, turn: 2 });
    expect(rows(c)).toEqual([
      ['model', 1, 'Hi!', null],
      ['user', 2, 'next', null]
    ]);
  });

  it('text typed by another client is shown by its transcript event only', async () => {
    const c = await live();
    devices.stream.emit({ type: 'text_accepted', id: 'elsewhere', turn: 3 });
    devices.stream.emit({ type: 'text_accepted', id: null, turn: 3 });
    expect(rows(c)).toEqual([]);
  });

  it('without a stream, the REST answer places the text', async () => {
    const c = await live();
    devices.stream.drop();
    devices.server.sendText.mockResolvedValue({ turn: 4 });
    await c.sendText('over REST');
    expect(devices.server.sendText).toHaveBeenCalledWith('sid', 'over REST');
    expect(rows(c)).toEqual([['user', 4, 'over REST', null]]);
  });

  it('a failed REST send is marked refused and thrown', async () => {
    const c = await live();
    devices.stream.drop();
    devices.server.sendText.mockRejectedValue(new Error('session ended'));
    await expect(c.sendText('late')).rejects.toThrow('session ended');
    expect(rows(c)).toEqual([['user', null, 'late', 'refused']]);
  });

  it('a busy answer refuses the oldest typed text still waiting', async () => {
    const c = await live();
    await c.sendText('one');
    await c.sendText('two');
    devices.stream.emit({
      type: 'error',
      code: 'busy',
      message: 'the upstream is not keeping up; try again',
      fatal: false
    });
    expect(rows(c).map(r => r[3])).toEqual(['refused', 'pending']);
  });
});

describe("Conversation: the model's voice", () => {
  it('a push-to-talk press stops the model speaking here at once', async () => {
    const c = await live(true);
    devices.player.speaking = true;
    expect(c.setTalking(true)).toBe(true);
    expect(devices.player.interrupt).toHaveBeenCalledTimes(1);
    expect(devices.stream.sent).toEqual([{ type: 'activity_start' }]);
  });

  it('a push-to-talk press with the model silent interrupts nothing', async () => {
    const c = await live(true);
    c.setTalking(true);
    expect(devices.player.interrupt).not.toHaveBeenCalled();
  });

  it('on interrupted it stops the voice and reports what was played', async () => {
    await live();
    devices.player.playedMs = 1234.4;
    devices.stream.emit({ type: 'interrupted', turn: 1 });
    expect(devices.player.interrupt).toHaveBeenCalledTimes(1);
    expect(devices.stream.sent).toEqual([
      { type: 'playback', played_ms: 1234 }
    ]);
  });

  it("files tool calls in the server's turn", async () => {
    const c = await live();
    devices.stream.emit({
      type: 'tool_call',
      id: 'c1',
      name: 'f',
      args: {},
      turn: 7
    });
    expect(c.transcript.items[0]).toMatchObject({ role: 'tool', turn: 7 });
  });
});
