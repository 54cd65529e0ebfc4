import type { FlowKeyMetrics } from '../tasks/store/flow.ts';
import type { MetricsRegistry } from './metrics-registry.ts';

/** Per flow key gauges, read at scrape time: slots held, tasks held back, 429s received. */
export function registerFlowMetrics(registry: MetricsRegistry, read: () => Promise<FlowKeyMetrics[]>): void {
  const inFlight = registry.gauge('asyncqueue_flow_in_flight', 'Tasks holding a slot of a flow key');
  const queued = registry.gauge('asyncqueue_flow_queued', 'Tasks a flow key holds back (pending)');
  const throttled = registry.gauge(
    'asyncqueue_flow_throttled',
    '429 answers received on a flow key since it was created',
  );
  registry.onCollect(async () => {
    const keys = await read();
    for (const gauge of [inFlight, queued, throttled]) gauge.reset();
    for (const k of keys) {
      const labels = { team: k.teamId, key: k.key };
      inFlight.set(k.inFlight, labels);
      queued.set(k.queued, labels);
      throttled.set(k.throttled, labels);
    }
  });
}
