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

  it('uses the activity_end time in push-to-talk', () => {
    const t = new LatencyTracker();
    t.micFrame(-20, 1000);
    t.activityEnd(1500);
    expect(t.modelAudioStarted(2100)).toBe(600);
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

  it('measures typed turns from when they were sent', () => {
    const t = new LatencyTracker();
    t.textSent(10);
    expect(t.modelAudioStarted(410)).toBe(400);
  });
});
