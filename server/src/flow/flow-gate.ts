import type { MikroORM } from '@mikro-orm/postgresql';
import type { EnqueueMany } from '../jobs/queues.ts';
import { keysWithHeldTasks } from '../tasks/store/flow.ts';
import { HAND_OVER_BATCH, handOver } from './hand-over.ts';

/**
 * Why 1 s: the sweep finds keys whose rate window or 429 pause has ended, and hand-overs a crash
 * skipped (a process that died between its commit and its hand-over); a second bounds that delay.
 */
const SWEEP_MS = 1000;
/** Why 1,000: keys with held tasks handed over per sweep; the next sweep takes the rest. */
const SWEEP_KEYS = 1000;

export type FlowGate = {
  /** Something may have freed capacity on this key: hand it over (coalesced per key). */
  wake(teamId: string, flowKey: string): void;
  /** Starts the periodic sweep (worker processes). */
  startSweep(): void;
  stop(): Promise<void>;
};

type GateDeps = {
  orm: MikroORM;
  enqueueMany: EnqueueMany;
  /** Granted tasks have due dispatch jobs: wake the pumps (this process's and, by NOTIFY, others'). */
  onDispatchDue: () => void;
  onError: (message: string) => void;
};

/**
 * Runs hand-overs in this process: at most one at a time per key (a wake during one runs it once
 * more afterwards), and a timer for the moment a key's rate window or pause ends. The state that
 * decides is in PostgreSQL (hand-over.ts); this only decides when to look.
 */
export function createFlowGate(deps: GateDeps): FlowGate {
  const running = new Map<string, Promise<void>>();
  const again = new Set<string>();
  const timers = new Map<string, NodeJS.Timeout>();
  let sweep: NodeJS.Timeout | null = null;
  let stopped = false;

  const schedule = (id: string, teamId: string, flowKey: string, at: Date) => {
    if (timers.has(id)) return;
    const timer = setTimeout(
      () => {
        timers.delete(id);
        wake(teamId, flowKey);
      },
      Math.max(0, at.getTime() - Date.now()) + 5,
    );
    timer.unref();
    timers.set(id, timer);
  };

  const run = async (id: string, teamId: string, flowKey: string) => {
    do {
      again.delete(id);
      try {
        const result = await handOver(deps.orm.em.fork(), deps.enqueueMany, teamId, flowKey);
        if (result.granted > 0) deps.onDispatchDue();
        if (result.granted === HAND_OVER_BATCH) again.add(id);
        if (result.retryAt) schedule(id, teamId, flowKey, result.retryAt);
      } catch (error) {
        deps.onError(`flow hand-over of ${flowKey}: ${error instanceof Error ? error.message : String(error)}`);
      }
    } while (again.has(id) && !stopped);
    running.delete(id);
  };

  function wake(teamId: string, flowKey: string) {
    if (stopped) return;
    const id = `${teamId}/${flowKey}`;
    if (running.has(id)) {
      again.add(id);
      return;
    }
    running.set(id, run(id, teamId, flowKey));
  }

  const sweepOnce = async () => {
    try {
      for (const { teamId, flowKey } of await keysWithHeldTasks(deps.orm.em.fork(), SWEEP_KEYS)) wake(teamId, flowKey);
    } catch (error) {
      deps.onError(`flow sweep: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  return {
    wake,
    startSweep() {
      sweep ??= setInterval(() => void sweepOnce(), SWEEP_MS);
      sweep.unref();
    },
    async stop() {
      stopped = true;
      if (sweep) clearInterval(sweep);
      for (const timer of timers.values()) clearTimeout(timer);
      await Promise.allSettled(running.values());
    },
  };
}
