import { type ProviderPreset, readField } from './provider-preset.ts';

const FINAL_STATUSES = ['succeeded', 'failed', 'canceled'];

/** Replicate predictions: poll GET /v1/predictions/{id}. */
export const replicatePreset: ProviderPreset = {
  id: 'replicate',
  name: 'Replicate',
  description: 'Replicate predictions: polls /v1/predictions/{id} every 5 s; output is the result.',
  baseUrl: 'https://api.replicate.com',
  pollConfig: {
    urlTemplate: 'https://api.replicate.com/v1/predictions/{startResult.body.id}',
    statusPath: 'status',
    doneValues: ['succeeded'],
    failValues: ['failed', 'canceled'],
    resultPath: 'output',
    errorPath: 'error',
    // Why: Replicate predictions take seconds to minutes; 5 s is its own SDK's default poll.
    interval: 5,
    maxDuration: 600,
    forwardAuth: true,
  },
  // Replicate sends start/output/logs webhooks before the final one.
  isFinalCallback: (payload) => FINAL_STATUSES.includes(String(readField(payload, 'status'))),
};
