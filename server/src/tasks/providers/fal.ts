import { everyPayloadIsFinal, type ProviderPreset } from './provider-preset.ts';

/** fal.ai queue: poll the returned status_url, then fetch the result from response_url. */
export const falPreset: ProviderPreset = {
  id: 'fal',
  name: 'fal.ai',
  description: 'fal.ai queue API: polls status_url every 3 s and fetches the result from response_url.',
  baseUrl: null,
  // status_url and response_url come from fal's response: credentials go only to its queue API.
  credentialOrigins: ['https://queue.fal.run'],
  pollConfig: {
    urlTemplate: '{startResult.body.status_url}',
    resultUrlTemplate: '{startResult.body.response_url}',
    statusPath: 'status',
    doneValues: ['COMPLETED'],
    failValues: ['FAILED'],
    resultPath: '',
    errorPath: null,
    // Why: fal's queue updates about once a second; 3 s keeps latency low without hammering it.
    interval: 3,
    maxDuration: 600,
    forwardAuth: true,
  },
  isFinalCallback: everyPayloadIsFinal,
};
