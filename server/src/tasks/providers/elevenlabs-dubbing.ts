import { everyPayloadIsFinal, type ProviderPreset } from './provider-preset.ts';

/** ElevenLabs dubbing: poll GET /v1/dubbing/{dubbing_id} with the xi-api-key header. */
export const elevenlabsDubbingPreset: ProviderPreset = {
  id: 'elevenlabs-dubbing',
  name: 'ElevenLabs Dubbing',
  description: 'ElevenLabs dubbing: polls /v1/dubbing/{dubbing_id} every 10 s until dubbed or failed.',
  baseUrl: 'https://api.elevenlabs.io',
  pollConfig: {
    urlTemplate: 'https://api.elevenlabs.io/v1/dubbing/{startResult.body.dubbing_id}',
    statusPath: 'status',
    doneValues: ['dubbed'],
    failValues: ['failed'],
    resultPath: '',
    errorPath: 'error',
    // Why: dubbing runs for minutes (expected_duration_sec); 10 s is plenty and cheap.
    interval: 10,
    // Why: long media can take up to half an hour to dub.
    maxDuration: 1800,
    forwardAuth: true,
  },
  isFinalCallback: everyPayloadIsFinal,
};
