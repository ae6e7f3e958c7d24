import { ISession } from '../../api';
import { describeSession, isJoinable } from '../joinable';

const base = {
  id: '3f2a9c1e-0000-4000-8000-000000000000',
  backend: 'echo',
  voice: 'Puck',
  state: 'live',
  created: '2024-05-01T14:02:00',
  device_connected: false
} as ISession;

describe('joinable sessions', () => {
  it('describes a session by backend, voice, start time and short id', () => {
    expect(describeSession(base)).toBe('echo · Puck · started 14:02 · 3f2a…');
    expect(describeSession({ ...base, created: 'garbage' })).toBe(
      'echo · Puck · 3f2a…'
    );
  });

  it('is joinable only when up and without a device', () => {
    expect(isJoinable(base)).toBe(true);
    expect(isJoinable({ ...base, state: 'connecting' })).toBe(true);
    expect(isJoinable({ ...base, device_connected: true })).toBe(false);
    expect(isJoinable({ ...base, state: 'closed' })).toBe(false);
  });
});
