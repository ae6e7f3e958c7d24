import { LatencyTracker } from '../latency';

describe('LatencyTracker', () => {
  it('measures from the last loud mic frame to the first model audio', () => {
    const t = new LatencyTracker(-45);
    t.micFrame(-20, 1000);
    t.micFrame(-25, 1020);
    t.micFrame(-70, 1040); // silence after speech does not move the end
    t.micFrame(-70, 1060);
    expect(t.modelAudioStarted(1700)).toBe(680);
    expect(t.last).toBe(680);
  });

  it('does not measure push-to-talk or typed turns', () => {
    const t = new LatencyTracker();
    t.micFrame(-20, 1000);
    t.skipTurn(); // released the Talk key, or sent typed text
    expect(t.modelAudioStarted(1020)).toBeNull();
    expect(t.last).toBeNull();
    expect(t.median).toBeNull();
  });

  it("keeps the session's median, and forgets all on clear", () => {
    const t = new LatencyTracker();
    for (const [end, heard] of [
      [0, 600],
      [1000, 1700],
      [2000, 2620]
    ]) {
      t.micFrame(-20, end);
      t.modelAudioStarted(heard);
    }
    expect(t.last).toBe(620);
    expect(t.median).toBe(620);
    expect(t.count).toBe(3);
    t.micFrame(-20, 3000);
    t.modelAudioStarted(3900);
    expect(t.median).toBe(660);
    t.clear();
    expect(t.last).toBeNull();
    expect(t.median).toBeNull();
  });

  it('measures once per user turn', () => {
    const t = new LatencyTracker();
    t.micFrame(-20, 0);
    expect(t.modelAudioStarted(500)).toBe(500);
    // The model continues in a new burst without new speech: not a new measurement.
    expect(t.modelAudioStarted(3000)).toBeNull();
    expect(t.last).toBe(500);
  });

  it('measures nothing before any speech, and after a reset', () => {
    const t = new LatencyTracker();
    t.micFrame(-80, 0);
    expect(t.modelAudioStarted(100)).toBeNull();
    t.micFrame(-10, 200);
    t.reset();
    expect(t.modelAudioStarted(300)).toBeNull();
    expect(t.last).toBeNull();
  });
});
