import type { MetricsRegistry } from '../metrics/metrics-registry.ts';

/** Why these buckets: from a 1 ms cache hit to a 25 s long-poll, in roughly ×2.5 steps. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25];

export type HttpMetrics = { observe(method: string, route: string, status: number, seconds: number): void };

/** Process and HTTP metrics, registered on the shared registry. */
export function registerHttpMetrics(registry: MetricsRegistry): HttpMetrics {
  const requests = registry.counter('asyncqueue_http_requests_total', 'HTTP requests by method, route and status');
  const duration = registry.histogram(
    'asyncqueue_http_request_duration_seconds',
    'HTTP request duration by route',
    LATENCY_BUCKETS,
  );
  const rss = registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes');
  const heap = registry.gauge('nodejs_heap_used_bytes', 'V8 heap used in bytes');
  const cpu = registry.gauge('process_cpu_seconds_total', 'User and system CPU time in seconds');
  const uptime = registry.gauge('process_uptime_seconds', 'Seconds since the process started');
  registry.onCollect(() => {
    const memory = process.memoryUsage();
    rss.set(memory.rss);
    heap.set(memory.heapUsed);
    const usage = process.cpuUsage();
    cpu.set((usage.user + usage.system) / 1e6);
    uptime.set(process.uptime());
  });
  // Each (method, route, status) gets its two series once; a request then costs one map lookup.
  // Bounded like the series themselves: routes come from the route table, methods and statuses are few.
  const seriesOf = new Map<string, { count: { inc(): void }; time: { observe(seconds: number): void } }>();
  return {
    observe(method, route, status, seconds) {
      const id = `${method} ${route} ${status}`;
      let series = seriesOf.get(id);
      if (!series) {
        series = {
          count: requests.series({ method, route, status: String(status) }),
          time: duration.series({ route }),
        };
        seriesOf.set(id, series);
      }
      series.count.inc();
      series.time.observe(seconds);
    },
  };
}
