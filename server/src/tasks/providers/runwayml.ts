import { everyPayloadIsFinal, type ProviderPreset } from './provider-preset.ts';

/** RunwayML tasks: poll GET /v1/tasks/{id} with the pinned API version header. */
export const runwaymlPreset: ProviderPreset = {
  id: 'runwayml',
  name: 'RunwayML',
  description: 'RunwayML tasks: polls /v1/tasks/{id} every 5 s with X-Runway-Version; output is the result.',
  baseUrl: 'https://api.dev.runwayml.com',
  pollConfig: {
    urlTemplate: 'https://api.dev.runwayml.com/v1/tasks/{startResult.body.id}',
    statusPath: 'status',
    doneValues: ['SUCCEEDED'],
    failValues: ['FAILED', 'CANCELLED'],
    resultPath: 'output',
    errorPath: 'failure',
    // Why: Runway documents "don't expect updates more often than every 5 s".
    interval: 5,
    maxDuration: 600,
    forwardAuth: true,
    headers: { 'X-Runway-Version': '2024-11-06' },
  },
  isFinalCallback: everyPayloadIsFinal,
};
