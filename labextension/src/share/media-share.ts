/**
 * Camera and screen sharing: a video track from getUserMedia (camera) or
 * getDisplayMedia (a screen, window or tab), shown in a small preview and sent to the
 * session as JPEG `image` frames at most once a second, scaled to about 768 px on the
 * long side. Sharing stops with `stop()` (the user's button, the session's end) and
 * when the browser ends the track itself (its own "Stop sharing" button, the camera
 * unplugged).
 */
import { ISignal, Signal } from '@lumino/signaling';

import {
  FramePacer,
  IClock,
  ISize,
  MAX_LONG_SIDE,
  scaledSize,
  systemClock
} from './pacing';

export type ShareKind = 'camera' | 'screen';

/** The frame the server takes (`image` on the device stream). */
export interface IImageFrame {
  type: 'image';
  mime_type: 'image/jpeg';
  /** base64 of the JPEG bytes. */
  data: string;
}

/** What sharing needs of `navigator.mediaDevices`. */
export interface IShareDevices {
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  getDisplayMedia(constraints: DisplayMediaStreamOptions): Promise<MediaStream>;
}

/** Encodes the current picture of `video` at `size` as base64 JPEG (null: none yet). */
export type FrameCapture = (
  video: HTMLVideoElement,
  size: ISize
) => Promise<string | null>;

export interface IMediaShareOptions {
  /** Sends one frame on the device stream; false when it could not go. */
  send: (frame: IImageFrame) => boolean;
  devices?: IShareDevices | null;
  capture?: FrameCapture;
  clock?: IClock;
  intervalMs?: number;
  longSide?: number;
  /** The preview element (default: a new muted, inline <video>). */
  createVideo?: () => HTMLVideoElement;
}

/** JPEG quality of the frames: small, still legible text on a shared screen. */
const JPEG_QUALITY = 0.7;

export class MediaShare {
  /** The preview: a muted <video> playing what is shared (mount it where it shows). */
  readonly video: HTMLVideoElement;
  private _kind: ShareKind | null = null;
  private _error: unknown = null;
  private _framesSent = 0;
  private stream: MediaStream | null = null;
  /** Bumped by every start/stop, so a late getUserMedia answer is not used. */
  private generation = 0;
  private readonly pacer: FramePacer;
  private readonly longSide: number;
  private readonly capture: FrameCapture;
  private readonly _changed = new Signal<this, void>(this);

  constructor(private readonly options: IMediaShareOptions) {
    this.video = (options.createVideo ?? createPreviewVideo)();
    this.capture = options.capture ?? captureJpeg;
    this.longSide = options.longSide ?? MAX_LONG_SIDE;
    this.pacer = new FramePacer(
      () => this.sendFrame(),
      options.clock ?? systemClock,
      options.intervalMs
    );
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** What is shared now; null when nothing. */
  get kind(): ShareKind | null {
    return this._kind;
  }

  /** Why the last start failed (the browser's error); null when it did not. */
  get error(): unknown {
    return this._error;
  }

  get framesSent(): number {
    return this._framesSent;
  }

  /** The browser can share a camera / a screen here (a secure context with the API). */
  supports(kind: ShareKind): boolean {
    const devices = this.devices;
    return kind === 'camera'
      ? typeof devices?.getUserMedia === 'function'
      : typeof devices?.getDisplayMedia === 'function';
  }

  /**
   * Share the camera or a screen (call from a click: the browser asks the user). What
   * was shared before stops first. A refusal is kept in `error` and thrown.
   */
  async start(kind: ShareKind): Promise<void> {
    this.stop();
    const generation = ++this.generation;
    this._error = null;
    const devices = this.devices;
    let stream: MediaStream;
    try {
      if (!devices) {
        throw new Error('this browser cannot share video here');
      }
      stream =
        kind === 'camera'
          ? await devices.getUserMedia({ video: true, audio: false })
          : await devices.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      if (generation === this.generation) {
        this._error = error;
        this.emit();
      }
      throw error;
    }
    if (generation !== this.generation) {
      stopTracks(stream); // stopped (or restarted) while the browser asked
      return;
    }
    this.stream = stream;
    this._kind = kind;
    this._framesSent = 0;
    for (const track of stream.getVideoTracks()) {
      // The browser's own "Stop sharing", or the device went away.
      track.addEventListener('ended', () => {
        if (this.stream === stream) {
          this.stop();
        }
      });
    }
    this.video.srcObject = stream;
    void this.video.play?.()?.catch?.(() => undefined);
    this.pacer.start();
    this.emit();
  }

  /** Stop sharing (nothing happens when nothing is shared). */
  stop(): void {
    this.generation++;
    this.pacer.stop();
    const stream = this.stream;
    if (!stream && this._kind === null) {
      return;
    }
    this.stream = null;
    this._kind = null;
    if (stream) {
      stopTracks(stream);
    }
    this.video.srcObject = null;
    this.emit();
  }

  dispose(): void {
    this.stop();
    Signal.clearData(this);
  }

  private get devices(): IShareDevices | null {
    if (this.options.devices !== undefined) {
      return this.options.devices;
    }
    return typeof navigator !== 'undefined' && navigator.mediaDevices
      ? (navigator.mediaDevices as IShareDevices)
      : null;
  }

  /** One frame of the preview, scaled and encoded; skipped until the video has one. */
  private async sendFrame(): Promise<void> {
    const stream = this.stream;
    const size = scaledSize(
      this.video.videoWidth,
      this.video.videoHeight,
      this.longSide
    );
    if (!stream || size.width === 0) {
      return;
    }
    const data = await this.capture(this.video, size);
    if (!data || this.stream !== stream) {
      return;
    }
    if (this.options.send({ type: 'image', mime_type: 'image/jpeg', data })) {
      this._framesSent++;
    }
  }

  private emit(): void {
    this._changed.emit();
  }
}

function createPreviewVideo(): HTMLVideoElement {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  return video;
}

function stopTracks(stream: MediaStream): void {
  for (const track of stream.getTracks()) {
    track.stop();
  }
}

/** The current picture of `video` as base64 JPEG at `size` (OffscreenCanvas or canvas). */
export async function captureJpeg(
  video: HTMLVideoElement,
  size: ISize
): Promise<string | null> {
  let blob: Blob | null;
  if (typeof OffscreenCanvas !== 'undefined') {
    const canvas = new OffscreenCanvas(size.width, size.height);
    const context = canvas.getContext('2d');
    if (!context) {
      return null;
    }
    context.drawImage(video, 0, 0, size.width, size.height);
    blob = await canvas.convertToBlob({
      type: 'image/jpeg',
      quality: JPEG_QUALITY
    });
  } else {
    const canvas = document.createElement('canvas');
    canvas.width = size.width;
    canvas.height = size.height;
    const context = canvas.getContext('2d');
    if (!context) {
      return null;
    }
    context.drawImage(video, 0, 0, size.width, size.height);
    blob = await new Promise<Blob | null>(resolve =>
      canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY)
    );
  }
  return blob ? base64(new Uint8Array(await blob.arrayBuffer())) : null;
}

/** base64 of bytes, in chunks (String.fromCharCode takes a bounded argument list). */
export function base64(bytes: Uint8Array): string {
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}
