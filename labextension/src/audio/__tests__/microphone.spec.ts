import { explain, microphoneUnavailable, openMicrophone } from '../microphone';

describe('microphone', () => {
  it('tells the user to use https or localhost when there is no mediaDevices', () => {
    const problem = microphoneUnavailable({} as Navigator, false);
    expect(problem?.reason).toBe('insecure');
    expect(problem?.message).toMatch(/https/);
    expect(problem?.message).toMatch(/localhost/);
  });

  it('explains denied, missing and busy microphones', () => {
    expect(explain({ name: 'NotAllowedError' }).reason).toBe('denied');
    expect(explain({ name: 'NotAllowedError' }).message).toMatch(
      /Allow the microphone/
    );
    expect(explain({ name: 'NotFoundError' }).message).toMatch(
      /No microphone was found/
    );
    expect(explain({ name: 'NotReadableError' }).reason).toBe('busy');
    expect(explain({ name: 'Weird', message: 'boom' }).message).toMatch(/boom/);
  });

  it('asks for echo cancellation, noise suppression and auto gain', async () => {
    const getUserMedia = jest.fn(async () => ({}) as MediaStream);
    const nav = { mediaDevices: { getUserMedia } } as unknown as Navigator;
    Object.defineProperty(window, 'isSecureContext', {
      value: true,
      configurable: true
    });
    await openMicrophone(nav);
    expect(getUserMedia).toHaveBeenCalledWith({
      audio: expect.objectContaining({
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true
      }),
      video: false
    });
  });

  it('turns a rejection into advice', async () => {
    const error = Object.assign(new Error('denied'), {
      name: 'NotAllowedError'
    });
    const nav = {
      mediaDevices: { getUserMedia: jest.fn(async () => Promise.reject(error)) }
    } as unknown as Navigator;
    Object.defineProperty(window, 'isSecureContext', {
      value: true,
      configurable: true
    });
    await expect(openMicrophone(nav)).rejects.toMatchObject({
      reason: 'denied'
    });
  });
});
