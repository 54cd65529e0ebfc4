import type { PollConfig } from '../task-types.ts';
import { elevenlabsDubbingPreset } from './elevenlabs-dubbing.ts';
import { falPreset } from './fal.ts';
import { lumaPreset } from './luma.ts';
import type { ProviderPreset } from './provider-preset.ts';
import { replicatePreset } from './replicate.ts';
import { runwaymlPreset } from './runwayml.ts';
import { stabilityVideoPreset } from './stability-video.ts';

export type { ProviderPreset } from './provider-preset.ts';

export const PROVIDER_PRESETS: readonly ProviderPreset[] = [
  falPreset,
  replicatePreset,
  runwaymlPreset,
  lumaPreset,
  elevenlabsDubbingPreset,
  stabilityVideoPreset,
];

export const PROVIDER_IDS = PROVIDER_PRESETS.map((p) => p.id);

export function findPreset(id: string): ProviderPreset | undefined {
  return PROVIDER_PRESETS.find((p) => p.id === id);
}

/** A preset's poll config with its fixed origin replaced by ASYNCQUEUE_PROVIDER_BASE_URLS. */
export function effectivePollConfig(preset: ProviderPreset, baseUrls: Readonly<Record<string, string>>): PollConfig {
  const override = baseUrls[preset.id];
  if (!override || !preset.baseUrl) return preset.pollConfig;
  const origin = override.replace(/\/+$/, '');
  const swap = (template: string | null | undefined) =>
    template?.startsWith(preset.baseUrl as string)
      ? origin + template.slice((preset.baseUrl as string).length)
      : template;
  return {
    ...preset.pollConfig,
    urlTemplate: swap(preset.pollConfig.urlTemplate) as string,
    resultUrlTemplate: swap(preset.pollConfig.resultUrlTemplate) ?? null,
  };
}
