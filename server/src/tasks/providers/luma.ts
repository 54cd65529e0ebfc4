import { type ProviderPreset, readField } from './provider-preset.ts';

const FINAL_STATES = ['completed', 'failed'];

/** Luma Dream Machine generations: poll GET /generations/{id}. */
export const lumaPreset: ProviderPreset = {
  id: 'luma',
  name: 'Luma Dream Machine',
  description: 'Luma generations: polls /dream-machine/v1/generations/{id} every 5 s; assets.video is the result.',
  baseUrl: 'https://api.lumalabs.ai',
  pollConfig: {
    urlTemplate: 'https://api.lumalabs.ai/dream-machine/v1/generations/{startResult.body.id}',
    statusPath: 'state',
    doneValues: ['completed'],
    failValues: ['failed'],
    resultPath: 'assets.video',
    errorPath: 'failure_reason',
    // Why: video generations take tens of seconds; 5 s matches Luma's own examples.
    interval: 5,
    maxDuration: 600,
    forwardAuth: true,
  },
  // Luma calls back with `dreaming` before `completed`/`failed`.
  isFinalCallback: (payload) => FINAL_STATES.includes(String(readField(payload, 'state'))),
};
