/**
 * Microphone capture: the device stream through the capture worklet, which posts
 * PCM16 frames at 16 kHz of the length the server asks for (`frame_ms` of its status).
 * The AudioContext runs at the device's native rate (forcing 16 kHz throws on Firefox
 * and records silence on Safari).
 */
import { openMicrophone } from './microphone';
import {
  CAPTURE_PROCESSOR,
  ICaptureProcessorOptions,
  addWorkletModule,
  captureModuleSource
} from './worklet-source';

export interface ICaptureOptions {
  context: AudioContext;
  targetRate: number;
  /** Frame length in ms (the server's `audio.frame_ms`). */
  frameMs: number;
  onFrame: (frame: ArrayBuffer) => void;
}

export class MicCapture {
  private constructor(
    private readonly stream: MediaStream,
    private readonly source: MediaStreamAudioSourceNode,
    private readonly node: AudioWorkletNode
  ) {}

  static async start(options: ICaptureOptions): Promise<MicCapture> {
    const { context } = options;
    const stream = await openMicrophone();
    try {
      await addWorkletModule(context, CAPTURE_PROCESSOR, captureModuleSource());
      const processorOptions: ICaptureProcessorOptions = {
        targetRate: options.targetRate,
        frameSamples: Math.round((options.targetRate * options.frameMs) / 1000)
      };
      const node = new AudioWorkletNode(context, CAPTURE_PROCESSOR, {
        numberOfInputs: 1,
        numberOfOutputs: 0,
        channelCount: 1,
        channelCountMode: 'explicit',
        processorOptions
      });
      node.port.onmessage = event => options.onFrame(event.data as ArrayBuffer);
      const source = context.createMediaStreamSource(stream);
      source.connect(node);
      return new MicCapture(stream, source, node);
    } catch (error) {
      stream.getTracks().forEach(track => track.stop());
      throw error;
    }
  }

  /** The device's label, to show which microphone is live. */
  get label(): string {
    return this.stream.getAudioTracks()[0]?.label ?? '';
  }

  stop(): void {
    this.node.port.postMessage({ type: 'stop' });
    this.node.port.onmessage = null;
    this.source.disconnect();
    this.node.disconnect();
    this.stream.getTracks().forEach(track => track.stop());
  }
}
