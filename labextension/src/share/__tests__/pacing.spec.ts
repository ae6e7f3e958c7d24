import { FramePacer, scaledSize } from '../pacing';
import { FakeClock } from './fake-clock';

describe('scaledSize', () => {
  it('scales the long side down to 768 px, keeping the aspect ratio', () => {
    expect(scaledSize(1920, 1080)).toEqual({ width: 768, height: 432 });
    expect(scaledSize(1080, 1920)).toEqual({ width: 432, height: 768 });
    expect(scaledSize(3840, 2160, 768)).toEqual({ width: 768, height: 432 });
  });

  it('never scales up', () => {
    expect(scaledSize(640, 480)).toEqual({ width: 640, height: 480 });
    expect(scaledSize(768, 768)).toEqual({ width: 768, height: 768 });
  });

  it('gives no size for a video without a picture yet', () => {
    expect(scaledSize(0, 0)).toEqual({ width: 0, height: 0 });
    expect(scaledSize(NaN, 480)).toEqual({ width: 0, height: 0 });
  });

  it('keeps a side of at least one pixel', () => {
    expect(scaledSize(10000, 2)).toEqual({ width: 768, height: 1 });
  });
});

describe('FramePacer', () => {
  it('grabs at once, then at most once a second', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const pacer = new FramePacer(
      async () => {
        times.push(clock.now());
      },
      clock,
      1000
    );
    pacer.start();
    await clock.advance(0);
    expect(times).toEqual([0]);
    await clock.advance(999);
    expect(times).toEqual([0]);
    await clock.advance(1);
    expect(times).toEqual([0, 1000]);
    await clock.advance(3000);
    expect(times).toEqual([0, 1000, 2000, 3000, 4000]);
    pacer.stop();
  });

  it('never starts a grab while the last one runs: a slow encoder lowers the rate', async () => {
    const clock = new FakeClock();
    const starts: number[] = [];
    const pacer = new FramePacer(
      () => {
        starts.push(clock.now());
        // each grab takes 1.5 s of the clock
        return new Promise<void>(resolve => clock.setTimeout(resolve, 1500));
      },
      clock,
      1000
    );
    pacer.start();
    await clock.advance(6000);
    expect(starts).toEqual([0, 1500, 3000, 4500, 6000]);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i] - starts[i - 1]).toBeGreaterThanOrEqual(1000);
    }
    pacer.stop();
  });

  it('stops: no grab after stop, no timer left', async () => {
    const clock = new FakeClock();
    const grab = jest.fn(async () => undefined);
    const pacer = new FramePacer(grab, clock, 1000);
    pacer.start();
    await clock.advance(1500);
    expect(grab).toHaveBeenCalledTimes(2);
    pacer.stop();
    expect(pacer.active).toBe(false);
    await clock.advance(5000);
    expect(grab).toHaveBeenCalledTimes(2);
    expect(clock.pending).toBe(0);
  });

  it('goes on after a grab fails', async () => {
    const clock = new FakeClock();
    const warn = jest
      .spyOn(console, 'warn')
      .mockImplementation(() => undefined);
    let calls = 0;
    const pacer = new FramePacer(
      async () => {
        calls++;
        if (calls === 1) {
          throw new Error('encoder');
        }
      },
      clock,
      1000
    );
    pacer.start();
    await clock.advance(1000);
    expect(calls).toBe(2);
    pacer.stop();
    warn.mockRestore();
  });
});
