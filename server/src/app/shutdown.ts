/** One named stop step: what it waits for (a promise, or nothing when the step is synchronous). */
type StopStep = { name: string; stop: () => unknown };

export type ShutdownList = {
  /** Adds a step; steps run in the reverse order of adding, so a part stops before what it uses. */
  add(name: string, stop: () => unknown): void;
  /** Runs every step once, each bounded; later calls return the same promise. Never throws. */
  run(): Promise<void>;
};

/** Why 15 s: a shutdown step that takes longer is stuck; the rest of the shutdown must still run. */
const STEP_BOUND_MS = 15_000;

/**
 * The declared shutdown order: the composition root adds each part's stop steps as the part
 * starts, and `run` stops them last-in, first-out. Each step is bounded and may fail without
 * stopping the ones after it.
 */
export function createShutdownList(warn: (msg: string) => void): ShutdownList {
  const steps: StopStep[] = [];
  let stopped: Promise<void> | undefined;
  return {
    add(name, stop) {
      steps.push({ name, stop });
    },
    run() {
      stopped ??= (async () => {
        for (const step of [...steps].reverse()) await boundedStep(step, warn);
      })();
      return stopped;
    },
  };
}

/** Runs one shutdown step, but never waits longer than STEP_BOUND_MS for it, and never throws. */
async function boundedStep(step: StopStep, warn: (msg: string) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), STEP_BOUND_MS);
  });
  const work = (async () => step.stop())();
  const outcome = await Promise.race([
    work.then(
      () => 'done' as const,
      () => 'failed' as const,
    ),
    bound,
  ]);
  clearTimeout(timer);
  if (outcome !== 'done')
    warn(`shutdown: ${step.name} ${outcome === 'late' ? `took over ${STEP_BOUND_MS} ms; going on` : 'failed'}`);
}
