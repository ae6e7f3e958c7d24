/**
 * Why a turn ended abnormally, in plain words: the service's `turn_complete_reason`
 * (google-genai's `TurnCompleteReason`) grouped by what the user can make of it. The raw
 * name stays available to whoever shows the line (a title attribute).
 */
import { TranslationBundle } from '@jupyterlab/translation';

/** What kind of abnormal end a reason is. */
export type ReasonKind =
  | 'input_blocked'
  | 'reply_blocked'
  | 'malformed_call'
  | 'rejected'
  | 'need_input'
  | 'gave_up'
  | 'other';

/** The service's blocked-input reasons that do not start with INPUT_. */
const INPUT_REASONS = new Set([
  'PROHIBITED_INPUT_CONTENT',
  'IMAGE_PROHIBITED_INPUT_CONTENT',
  'BLOCKLIST'
]);

export function reasonKind(reason: string): ReasonKind {
  const name = reason.trim().toUpperCase();
  if (name === 'MALFORMED_FUNCTION_CALL') {
    return 'malformed_call';
  }
  if (name === 'RESPONSE_REJECTED') {
    return 'rejected';
  }
  if (name === 'NEED_MORE_INPUT') {
    return 'need_input';
  }
  if (name === 'MAX_REGENERATION_REACHED') {
    return 'gave_up';
  }
  if (INPUT_REASONS.has(name) || name.startsWith('INPUT_')) {
    return 'input_blocked';
  }
  if (
    name.startsWith('GENERATED_') ||
    name.startsWith('OUTPUT_') ||
    name.startsWith('UNSAFE_')
  ) {
    return 'reply_blocked';
  }
  return 'other';
}

/** One short line for the transcript, e.g. "Gemini stopped: its safety filters blocked the reply." */
export function reasonText(reason: string, trans: TranslationBundle): string {
  switch (reasonKind(reason)) {
    case 'input_blocked':
      return trans.__(
        'Gemini did not answer: its safety filters blocked what it was sent.'
      );
    case 'reply_blocked':
      return trans.__('Gemini stopped: its safety filters blocked the reply.');
    case 'malformed_call':
      return trans.__(
        'Gemini stopped: it made a tool call that could not be read. Try asking again.'
      );
    case 'rejected':
      return trans.__('Gemini stopped: the reply was rejected.');
    case 'need_input':
      return trans.__('Gemini needs more from you before it can answer.');
    case 'gave_up':
      return trans.__(
        'Gemini stopped: it could not produce a reply. Try asking again.'
      );
    default:
      return trans.__('The turn ended early.');
  }
}
