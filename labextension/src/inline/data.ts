/**
 * The notebook output `%gemini_live start` / `attach` display: which session it is and
 * how it was set up. The state is not part of it (it changes after the cell ran), so the
 * card asks the server for that.
 */
import { ReadonlyPartialJSONValue } from '@lumino/coreutils';

export const SESSION_MIME_TYPE =
  'application/vnd.jupyter.gemini-live.session+json';

export interface ISessionCardData {
  session_id: string;
  backend: string;
  model: string;
  voice: string;
}

export type ParsedCardData =
  { ok: true; data: ISessionCardData } | { ok: false; reason: string };

const FIELDS = ['session_id', 'backend', 'model', 'voice'] as const;

/** Check the output's data; a notebook file may hold anything, so nothing is assumed. */
export function parseCardData(
  value: ReadonlyPartialJSONValue | undefined
): ParsedCardData {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'the output holds no session description' };
  }
  const record = value as Record<string, unknown>;
  for (const field of FIELDS) {
    const item = record[field];
    if (typeof item !== 'string' || (field === 'session_id' && !item)) {
      return { ok: false, reason: `${field} is missing or not a string` };
    }
  }
  return { ok: true, data: record as unknown as ISessionCardData };
}
