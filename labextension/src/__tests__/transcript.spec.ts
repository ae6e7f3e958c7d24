import { TranscriptModel } from '../transcript';

describe('TranscriptModel', () => {
  it('replaces a row in place with the cumulative text until final', () => {
    const model = new TranscriptModel();
    model.update('user', 1, 'Hello', false);
    model.update('user', 1, 'Hello there', false);
    expect(model.items).toHaveLength(1);
    expect(model.items[0]).toMatchObject({ text: 'Hello there', final: false });
    model.update('user', 1, 'Hello there, Gemini', true);
    expect(model.items).toHaveLength(1);
    expect(model.items[0]).toMatchObject({
      text: 'Hello there, Gemini',
      final: true
    });
  });

  it('keeps one row per role and turn, in order of appearance', () => {
    const model = new TranscriptModel();
    model.update('user', 1, 'Hi', false);
    model.update('model', 1, 'Hello', false);
    model.update('user', 1, 'Hi!', true);
    model.update('user', 2, 'Next', false);
    expect(model.items.map(r => [r.role, r.turn, r.text])).toEqual([
      ['user', 1, 'Hi!'],
      ['model', 1, 'Hello'],
      ['user', 2, 'Next']
    ]);
  });

  it('a late partial does not un-finalise a row', () => {
    const model = new TranscriptModel();
    model.update('model', 3, 'Done.', true);
    model.update('model', 3, 'Done.', false);
    expect(model.items[0].final).toBe(true);
  });

  it('marks interrupted model turns and settles the turn', () => {
    const model = new TranscriptModel();
    model.update('user', 4, 'Stop', false);
    model.update('model', 4, 'Let me expl', false);
    model.interrupt(4);
    const [user, gemini] = model.items;
    expect(gemini).toMatchObject({ interrupted: true, final: true });
    expect(user).toMatchObject({ interrupted: false, final: true });
  });

  it('turn_complete finalises rows that never got final', () => {
    const model = new TranscriptModel();
    model.update('model', 2, 'Sure', false);
    model.update('model', 3, 'Other', false);
    model.settle(2);
    expect(model.items.map(r => r.final)).toEqual([true, false]);
  });

  it('shows tool calls and marks cancelled ones', () => {
    const model = new TranscriptModel();
    model.addToolCall(1, 'c1', 'get_time', { tz: 'UTC' });
    model.addToolCall(1, 'c2', 'other', {});
    model.cancelToolCalls(['c1']);
    expect(model.items[0]).toMatchObject({
      role: 'tool',
      text: 'get_time({"tz":"UTC"})',
      interrupted: true
    });
    expect(model.items[1].interrupted).toBe(false);
  });

  it('exports Markdown with speakers and interruptions', () => {
    const model = new TranscriptModel();
    model.update('user', 1, 'What time is it?', true);
    model.update('model', 1, 'It is', false);
    model.interrupt(1);
    const md = model.toMarkdown('Talk');
    expect(md).toContain('# Talk');
    expect(md).toContain('**You:** What time is it?');
    expect(md).toContain('**Gemini:** It is _(interrupted)_');
  });

  it('signals each change', () => {
    const model = new TranscriptModel();
    let count = 0;
    model.changed.connect(() => count++);
    model.update('user', 1, 'a', false);
    model.update('user', 1, 'ab', true);
    model.clear();
    expect(count).toBe(3);
    expect(model.items).toHaveLength(0);
  });

  it('shows typed text in no turn, then in the turn the server gave it', () => {
    const model = new TranscriptModel();
    model.update('user', 2, 'hello', false);
    model.addTyped('t1', 'and more');
    expect(model.items[1]).toMatchObject({
      key: 'typed:t1',
      turn: null,
      typed: 'pending'
    });
    model.acceptTyped('t1', 2);
    expect(model.items.map(r => [r.turn, r.text, r.typed])).toEqual([
      [2, 'hello and more', undefined]
    ]);
    // The server's event for that turn carries the same words: still one row.
    model.update('user', 2, 'hello and more', true);
    expect(model.items).toHaveLength(1);
  });

  it('does not repeat typed text the turn row already has', () => {
    const model = new TranscriptModel();
    model.addTyped('t1', 'next');
    model.update('user', 3, 'next', true);
    model.acceptTyped('t1', 3);
    expect(model.items.map(r => [r.turn, r.text])).toEqual([[3, 'next']]);
  });

  it('marks refused typed text, oldest waiting first', () => {
    const model = new TranscriptModel();
    model.addTyped('a', 'one');
    model.addTyped('b', 'two');
    model.refuseOldestTyped();
    model.refuseTyped('b');
    expect(model.items.map(r => r.typed)).toEqual(['refused', 'refused']);
    expect(model.toMarkdown('T')).toContain('**You:** one');
  });

  it("writes the server's Markdown structure (transcript.to_markdown), cells per turn", () => {
    const model = new TranscriptModel();
    model.update('user', 1, 'hello', true);
    model.update('model', 1, 'You said: hello', true);
    model.update('user', 3, 'stop', true);
    model.update('model', 3, 'You sa', false);
    model.interrupt(3);
    // The same text as tests/test_transcript.py's to_markdown of the same entries.
    expect(model.toMarkdown('T')).toBe(
      '# T\n\n## Turn 1\n\n**You:** hello\n\n**Gemini:** You said: hello\n\n' +
        '## Turn 3\n\n**You:** stop\n\n**Gemini:** You sa _(interrupted)_\n'
    );
    model.addToolCall(3, 'c1', 'get_weather', { city: 'Paris' });
    expect(model.toCells()).toEqual([
      '## Turn 1\n\n**You:** hello\n\n**Gemini:** You said: hello',
      '## Turn 3\n\n**You:** stop\n\n**Gemini:** You sa _(interrupted)_\n\n' +
        '**Tool call:** `get_weather({"city":"Paris"})`'
    ]);
  });
});
