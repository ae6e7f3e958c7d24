import {
  FLOOR_DB,
  LevelMeter,
  meanSquareToDb,
  pcm16Rms,
  rmsToDb
} from '../level-meter';

describe('level meter', () => {
  it('computes RMS of PCM16 in dBFS', () => {
    const square = new Int16Array(320).map((_, i) => (i % 2 ? 16384 : -16384));
    expect(pcm16Rms(square)).toBeCloseTo(0.5, 6);
    expect(rmsToDb(0.5)).toBeCloseTo(-6.02, 2);
    expect(meanSquareToDb(0.25)).toBeCloseTo(-6.02, 2);
    expect(rmsToDb(0)).toBe(FLOOR_DB);
    expect(pcm16Rms(new Int16Array(0))).toBe(0);
  });

  it('jumps up at once and falls back slowly', () => {
    const meter = new LevelMeter(30);
    meter.update(-10, 0);
    meter.update(-60, 100);
    expect(meter.display(100)).toBeCloseTo(-13, 5);
    expect(meter.display(1000)).toBeCloseTo(-40, 5);
    expect(meter.fraction(0)).toBeCloseTo(50 / 60, 5);
    meter.update(-5, 1000);
    expect(meter.display(1000)).toBe(-5);
  });
});
