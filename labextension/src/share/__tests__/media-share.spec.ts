import { IImageFrame, IShareDevices, MediaShare, base64 } from '../media-share';
import { FakeClock, flush } from './fake-clock';

/** A video track that can be ended the way the browser's "Stop sharing" ends it. */
class FakeTrack extends EventTarget {
  stopped = false;
  kind = 'video';
  stop(): void {
    this.stopped = true;
  }
  /** The browser ended it (its own stop button). */
  end(): void {
    this.dispatchEvent(new Event('ended'));
  }
}

function fakeStream(track: FakeTrack): MediaStream {
  return {
    getTracks: () => [track],
    getVideoTracks: () => [track]
  } as unknown as MediaStream;
}

function setup(size = { width: 1280, height: 720 }) {
  const clock = new FakeClock();
  const track = new FakeTrack();
  const devices: jest.Mocked<IShareDevices> = {
    getUserMedia: jest.fn(async (_c: MediaStreamConstraints) =>
      fakeStream(track)
    ),
    getDisplayMedia: jest.fn(async (_c: DisplayMediaStreamOptions) =>
      fakeStream(track)
    )
  };
  const video = {
    videoWidth: size.width,
    videoHeight: size.height,
    srcObject: null as MediaStream | null,
    play: jest.fn(async () => undefined)
  } as unknown as HTMLVideoElement;
  const sent: IImageFrame[] = [];
  const capture = jest.fn(async () => 'SlBFRw==');
  const share = new MediaShare({
    send: frame => {
      sent.push(frame);
      return true;
    },
    devices,
    capture,
    clock,
    createVideo: () => video
  });
  return { clock, track, devices, video, sent, capture, share };
}

describe('MediaShare', () => {
  it('shares the camera: a preview, then JPEG frames at 1 fps scaled to 768 px', async () => {
    const { clock, devices, video, sent, capture, share } = setup();
    await share.start('camera');
    expect(devices.getUserMedia).toHaveBeenCalledWith({
      video: true,
      audio: false
    });
    expect(share.kind).toBe('camera');
    expect(video.srcObject).not.toBeNull();
    await clock.advance(0);
    await clock.advance(2000);
    expect(sent).toHaveLength(3);
    expect(sent[0]).toEqual({
      type: 'image',
      mime_type: 'image/jpeg',
      data: 'SlBFRw=='
    });
    expect(capture).toHaveBeenCalledWith(video, { width: 768, height: 432 });
    expect(share.framesSent).toBe(3);
    share.stop();
  });

  it('shares a screen through getDisplayMedia', async () => {
    const { devices, share } = setup();
    await share.start('screen');
    expect(devices.getDisplayMedia).toHaveBeenCalled();
    expect(devices.getUserMedia).not.toHaveBeenCalled();
    expect(share.kind).toBe('screen');
    share.stop();
  });

  it('stops cleanly: tracks stopped, preview cleared, no more frames', async () => {
    const { clock, track, video, sent, share } = setup();
    const changed = jest.fn();
    share.changed.connect(changed);
    await share.start('camera');
    await clock.advance(1000);
    const before = sent.length;
    share.stop();
    expect(track.stopped).toBe(true);
    expect(video.srcObject).toBeNull();
    expect(share.kind).toBeNull();
    await clock.advance(5000);
    expect(sent).toHaveLength(before);
    expect(clock.pending).toBe(0);
    expect(changed).toHaveBeenCalledTimes(2);
  });

  it("stops when the browser ends the track (its own 'Stop sharing')", async () => {
    const { clock, track, sent, share } = setup();
    await share.start('screen');
    await clock.advance(0);
    track.end();
    expect(share.kind).toBeNull();
    const count = sent.length;
    await clock.advance(3000);
    expect(sent).toHaveLength(count);
  });

  it('sends nothing until the video has a picture', async () => {
    const { clock, sent, share } = setup({ width: 0, height: 0 });
    await share.start('camera');
    await clock.advance(3000);
    expect(sent).toHaveLength(0);
    share.stop();
  });

  it('keeps a refusal in error and throws it', async () => {
    const { devices, share } = setup();
    const refusal = Object.assign(new Error('denied'), {
      name: 'NotAllowedError'
    });
    devices.getDisplayMedia.mockRejectedValueOnce(refusal);
    await expect(share.start('screen')).rejects.toBe(refusal);
    expect(share.kind).toBeNull();
    expect(share.error).toBe(refusal);
  });

  it('drops a stream that arrives after stop', async () => {
    const { devices, track, share } = setup();
    let resolve: (stream: MediaStream) => void = () => undefined;
    devices.getUserMedia.mockReturnValueOnce(
      new Promise(r => {
        resolve = r;
      })
    );
    const started = share.start('camera');
    share.stop();
    resolve(fakeStream(track));
    await started;
    await flush();
    expect(track.stopped).toBe(true);
    expect(share.kind).toBeNull();
  });

  it('switching from camera to screen stops the camera', async () => {
    const { devices, share } = setup();
    const camera = new FakeTrack();
    devices.getUserMedia.mockResolvedValueOnce(fakeStream(camera));
    await share.start('camera');
    await share.start('screen');
    expect(camera.stopped).toBe(true);
    expect(share.kind).toBe('screen');
    share.stop();
  });

  it('says what the browser supports', () => {
    const share = new MediaShare({ send: () => true, devices: null });
    expect(share.supports('camera')).toBe(false);
    expect(share.supports('screen')).toBe(false);
    expect(setup().share.supports('screen')).toBe(true);
  });
});

describe('base64', () => {
  it('encodes bytes, also more than one chunk', () => {
    expect(base64(new TextEncoder().encode('JPEG'))).toBe('SlBFRw==');
    const big = new Uint8Array(0x8000 * 2 + 3).fill(65);
    expect(atob(base64(big))).toHaveLength(big.length);
  });
});
