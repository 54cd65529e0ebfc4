import type { MetricsRegistry } from './metrics-registry.ts';

/** Why these buckets: a loopback call takes a millisecond, a provider call up to the 600 s timeout. */
const CALL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export type TaskMetrics = {
  transition(status: string): void;
  dispatch(seconds: number, outcome: string): void;
  webhook(seconds: number, statusCode: number | null): void;
};

/** Task counters and call latencies; gauges read at scrape time by the caller's collector. */
export function registerTaskMetrics(
  registry: MetricsRegistry,
  read: {
    activeTasks(): Promise<Record<string, number>>;
    queueJobs(): Promise<Record<string, Record<string, number>>>;
  },
): TaskMetrics {
  const transitions = registry.counter('asyncqueue_task_transitions_total', 'Task status transitions by target status');
  const dispatch = registry.histogram(
    'asyncqueue_dispatch_duration_seconds',
    'Outbound task calls by outcome',
    CALL_BUCKETS,
  );
  const webhook = registry.histogram(
    'asyncqueue_webhook_duration_seconds',
    'Completion webhook deliveries',
    CALL_BUCKETS,
  );
  const webhookResults = registry.counter('asyncqueue_webhook_deliveries_total', 'Webhook deliveries by result');
  const tasks = registry.gauge('asyncqueue_tasks', 'Tasks not yet terminal, by status');
  const jobs = registry.gauge('asyncqueue_queue_jobs', 'pg-boss jobs by queue and state (pg-boss monitor cache)');
  registry.onCollect(async () => {
    for (const [status, n] of Object.entries(await read.activeTasks())) tasks.set(n, { status });
    for (const [queue, states] of Object.entries(await read.queueJobs())) {
      for (const [state, n] of Object.entries(states)) jobs.set(n, { queue, state });
    }
  });
  return {
    transition: (status) => transitions.inc({ status }),
    dispatch: (seconds, outcome) => dispatch.observe(seconds, { outcome }),
    webhook: (seconds, statusCode) => {
      const result = statusCode === null ? 'error' : statusCode >= 200 && statusCode < 300 ? 'delivered' : 'rejected';
      webhook.observe(seconds, { result });
      webhookResults.inc({ result });
    },
  };
}
