/**
 * A small Prometheus text registry (counters, gauges, histograms with labels). No dependency: the
 * exposition format is simple and our metrics are few.
 */
type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

type Metric = { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; render(): string[] };

export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => void | Promise<void>)[] = [];

  counter(name: string, help: string) {
    const values = new Map<string, number>();
    this.#metrics.push({ name, help, type: 'counter', render: () => [...values].map(([l, v]) => line(name, l, v)) });
    return { inc: (labels: Labels = {}, by = 1) => values.set(key(labels), (values.get(key(labels)) ?? 0) + by) };
  }

  gauge(name: string, help: string) {
    const values = new Map<string, number>();
    this.#metrics.push({ name, help, type: 'gauge', render: () => [...values].map(([l, v]) => line(name, l, v)) });
    return {
      set: (value: number, labels: Labels = {}) => values.set(key(labels), value),
      /** Forgets every series (a gauge read whole at each scrape, whose label sets come and go). */
      reset: () => values.clear(),
    };
  }

  histogram(name: string, help: string, buckets: number[]) {
    const series = new Map<string, { counts: number[]; sum: number; count: number }>();
    const render = () =>
      [...series].flatMap(([l, s]) => [
        ...buckets.map((b, i) => line(`${name}_bucket`, join(l, `le="${b}"`), s.counts[i] ?? 0)),
        line(`${name}_bucket`, join(l, 'le="+Inf"'), s.count),
        line(`${name}_sum`, l, s.sum),
        line(`${name}_count`, l, s.count),
      ]);
    this.#metrics.push({ name, help, type: 'histogram', render });
    return {
      observe: (value: number, labels: Labels = {}) => {
        const k = key(labels);
        const s = series.get(k) ?? { counts: buckets.map(() => 0), sum: 0, count: 0 };
        buckets.forEach((b, i) => {
          if (value <= b) s.counts[i] = (s.counts[i] ?? 0) + 1;
        });
        s.sum += value;
        s.count += 1;
        series.set(k, s);
      },
    };
  }

  /** Runs before each scrape, to refresh gauges that are read rather than counted. */
  onCollect(collect: () => void | Promise<void>): void {
    this.#collectors.push(collect);
  }

  async render(): Promise<string> {
    for (const collect of this.#collectors) await collect();
    return `${this.#metrics
      .flatMap((m) => [`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render()])
      .join('\n')}\n`;
  }
}

const join = (a: string, b: string) => (a ? `${a},${b}` : b);
const line = (name: string, labels: string, value: number) => `${name}${labels ? `{${labels}}` : ''} ${value}`;
