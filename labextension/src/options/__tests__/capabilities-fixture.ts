import { IModelCapabilities, IStatus } from '../../api';

export const base: IModelCapabilities = {
  thinking_levels: [],
  default_thinking_level: null,
  proactive_audio: 'unsupported',
  affective_dialog: 'unsupported',
  google_search: true,
  image_input: true
};

/** The server's table, as `status` answers it (abridged). */
export const CAPABILITIES: Record<string, IModelCapabilities> = {
  'gemini-3.8-live': {
    ...base,
    proactive_audio: 'always_on',
    affective_dialog: 'service_decides'
  },
  'gemini-3.8-live-extended-thinking': {
    ...base,
    thinking_levels: ['low', 'medium', 'high']
  },
  'gemini-3.1-flash-live-preview': {
    ...base,
    thinking_levels: ['minimal', 'low', 'medium', 'high'],
    default_thinking_level: 'minimal'
  },
  'gemini-2.5-flash-native-audio-preview-12-2025': {
    ...base,
    proactive_audio: 'optional',
    affective_dialog: 'supported'
  }
};

export const STATUS = {
  default_model: 'gemini-3.8-live',
  models: Object.keys(CAPABILITIES),
  capabilities: CAPABILITIES,
  unknown_model_capabilities: { ...base, known: false }
} as unknown as IStatus;
