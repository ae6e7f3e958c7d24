/**
 * The notebook output `RunningLiveAudio` displays: the relay session whose microphone and
 * speaker this browser becomes.
 */
import { ReadonlyPartialJSONValue } from '@lumino/coreutils';

export const DEVICE_MIME_TYPE =
  'application/vnd.jupyter.gemini-live.device+json';

export interface IDeviceData {
  session_id: string;
  /** The rate the kernel reads the microphone at (the wire stays 16 kHz). */
  sample_rate: number;
  /** What the kernel calls this device; may be empty. */
  label: string;
}

export type ParsedDeviceData =
  { ok: true; data: IDeviceData } | { ok: false; reason: string };

/** Check the output's data; a notebook file may hold anything, so nothing is assumed. */
export function parseDeviceData(
  value: ReadonlyPartialJSONValue | undefined
): ParsedDeviceData {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'the output holds no device description' };
  }
  const record = value as Record<string, unknown>;
  const { session_id, sample_rate, label } = record;
  if (typeof session_id !== 'string' || !session_id) {
    return { ok: false, reason: 'session_id is missing or not a string' };
  }
  if (
    typeof sample_rate !== 'number' ||
    !Number.isInteger(sample_rate) ||
    sample_rate <= 0
  ) {
    return { ok: false, reason: 'sample_rate is not a positive integer' };
  }
  if (label !== undefined && typeof label !== 'string') {
    return { ok: false, reason: 'label is not a string' };
  }
  return { ok: true, data: { session_id, sample_rate, label: label ?? '' } };
}
