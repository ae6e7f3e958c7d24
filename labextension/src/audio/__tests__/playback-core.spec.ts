import { pcm16ToFloat } from '../dsp/pcm';
import { IPlaybackOptions, PlaybackCore } from '../dsp/playback-core';
import { Resampler } from '../dsp/resampler';

const RATE = 48000;

function makeCore(options: Partial<IPlaybackOptions> = {}): PlaybackCore {
  return new PlaybackCore(new Resampler(24000, RATE, 4096), pcm16ToFloat, {
    rate: RATE,
    ...options
  });
}

/** `ms` of a constant at 24 kHz, as the server sends it. */
function chunk(ms: number, value = 8000): Int16Array {
  return new Int16Array((24000 * ms) / 1000).fill(value);
}

function renderQuanta(core: PlaybackCore, count: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const quantum = new Float32Array(128);
    core.render(quantum);
    out.push(quantum);
  }
  return out;
}

const energy = (q: Float32Array) => q.reduce((sum, v) => sum + Math.abs(v), 0);

describe('PlaybackCore jitter buffer', () => {
  it('waits for the 60 ms target before it starts', () => {
    const core = makeCore();
    core.push(chunk(40));
    expect(renderQuanta(core, 3).every(q => energy(q) === 0)).toBe(true);
    expect(core.state).toBe('buffering');
    core.push(chunk(40));
    const [first] = renderQuanta(core, 1);
    expect(core.state).toBe('playing');
    expect(core.starts).toBe(1);
    expect(energy(first)).toBeGreaterThan(0);
  });

  it('starts below the target when the turn has ended', () => {
    const core = makeCore();
    core.push(chunk(20));
    core.endTurn();
    renderQuanta(core, 1);
    expect(core.state).toBe('playing');
  });

  it('grows the target after an underrun and shrinks it when stable', () => {
    const core = makeCore({ stableMs: 1000, shrinkMs: 20 });
    core.push(chunk(100));
    renderQuanta(core, 60); // 160 ms: runs dry mid-turn
    expect(core.underruns).toBe(1);
    expect(core.targetMs).toBeCloseTo(120, 0);
    expect(core.state).toBe('buffering');
    // A steady supply for a while: the target comes back down.
    for (let i = 0; i < 40; i++) {
      core.push(chunk(80));
      renderQuanta(core, 30); // 80 ms
    }
    expect(core.underruns).toBe(1);
    expect(core.targetMs).toBeLessThan(120);
    expect(core.targetMs).toBeGreaterThanOrEqual(60);
  });

  it('caps the target', () => {
    const core = makeCore({ maxTargetMs: 200 });
    for (let i = 0; i < 10; i++) {
      core.push(chunk(Math.max(20, core.targetMs)));
      renderQuanta(core, 200);
    }
    expect(core.underruns).toBeGreaterThan(3);
    expect(core.targetMs).toBe(200);
  });

  it('on interrupt fades out within one quantum (<= 5 ms) and is silent after', () => {
    const core = makeCore();
    core.push(chunk(500));
    renderQuanta(core, 5);
    core.interrupt();
    // Audio of the next turn may arrive before the next quantum renders.
    core.push(chunk(40, 3000));
    const [fade, after] = renderQuanta(core, 2);
    const fadeSamples = Math.round(0.005 * RATE);
    const lastSound = fade.reduce((last, v, i) => (v !== 0 ? i : last), -1);
    expect(lastSound).toBeGreaterThanOrEqual(0);
    expect(lastSound).toBeLessThan(Math.min(128, fadeSamples));
    expect(Math.abs(fade[0])).toBeGreaterThan(Math.abs(fade[lastSound]));
    expect(energy(after)).toBe(0);
    expect(core.bufferedMs).toBeGreaterThan(0); // only the new turn is queued
  });

  it('counts what was really played, not what was received', () => {
    const core = makeCore();
    core.push(chunk(240));
    renderQuanta(core, 45); // 120 ms rendered
    expect(core.playedMs).toBeCloseTo((45 * 128 * 1000) / RATE, 3);
    core.interrupt();
    renderQuanta(core, 10);
    const afterInterrupt = core.playedMs;
    // Only the fade was added: the 120 ms still queued was never played.
    expect(afterInterrupt - (45 * 128 * 1000) / RATE).toBeLessThanOrEqual(5);
    core.push(chunk(100));
    core.endTurn();
    renderQuanta(core, 100);
    expect(core.playedMs - afterInterrupt).toBeCloseTo(100, 0);
    expect(core.drains).toBe(1);
    expect(core.state).toBe('idle');
  });

  it('measures the level of what it rendered', () => {
    const core = makeCore();
    core.push(chunk(200, 16384));
    core.endTurn();
    renderQuanta(core, 20);
    expect(core.takeLevel()).toBeCloseTo(0.25, 2);
    renderQuanta(core, 200);
    core.takeLevel();
    renderQuanta(core, 5);
    expect(core.takeLevel()).toBe(0);
  });
});
