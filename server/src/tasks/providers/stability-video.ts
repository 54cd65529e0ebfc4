import { everyPayloadIsFinal, type ProviderPreset } from './provider-preset.ts';

/** Stability image-to-video: the result URL answers 202 while running and 200 when done. */
export const stabilityVideoPreset: ProviderPreset = {
  id: 'stability-video',
  name: 'Stability AI image-to-video',
  description: 'Stability image-to-video: polls /v2beta/image-to-video/result/{id} every 10 s; HTTP 200 means done.',
  baseUrl: 'https://api.stability.ai',
  pollConfig: {
    urlTemplate: 'https://api.stability.ai/v2beta/image-to-video/result/{startResult.body.id}',
    statusPath: '$httpStatus',
    doneValues: ['200'],
    failValues: ['400', '404', '500'],
    resultPath: '',
    errorPath: null,
    // Why: a video takes a minute or two; 10 s is Stability's suggested poll interval.
    interval: 10,
    maxDuration: 600,
    forwardAuth: true,
    headers: { Accept: 'application/json' },
  },
  isFinalCallback: everyPayloadIsFinal,
};
