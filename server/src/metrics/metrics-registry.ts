/**
 * A small Prometheus text registry (counters, gauges, histograms with labels). No dependency: the
 * exposition format is simple and our metrics are few.
 */
type Labels = Record<string, string>;

const NEEDS_ESCAPE = /[\\"\n]/;
const escapeValue = (value: string) =>
  NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;

/** The series key `a="1",b="2"`: names sorted, values escaped as the exposition format wants. */
const key = (labels: Labels) => {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let text = '';
  for (const name of names) text += `${text ? ',' : ''}${name}="${escapeValue(String(labels[name]))}"`;
  return text;
};

type Metric = { name: string; help: string; type: 'counter' | 'gauge' | 'histogram'; render(): string[] };

export class MetricsRegistry {
  readonly #metrics: Metric[] = [];
  readonly #collectors: (() => void | Promise<void>)[] = [];

  counter(name: string, help: string) {
    const values = new Map<string, number>();
    this.#metrics.push({ name, help, type: 'counter', render: () => [...values].map(([l, v]) => line(name, l, v)) });
    const add = (k: string, by: number) => values.set(k, (values.get(k) ?? 0) + by);
    return {
      inc: (labels: Labels = {}, by = 1) => add(key(labels), by),
      /** One series, its key computed once: for a hot path that counts the same labels again and again. */
      series: (labels: Labels) => {
        const k = key(labels);
        return { inc: (by = 1) => add(k, by) };
      },
    };
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
    const observe = (k: string, value: number) => {
      let s = series.get(k);
      if (!s) {
        s = { counts: buckets.map(() => 0), sum: 0, count: 0 };
        series.set(k, s);
      }
      for (let i = 0; i < buckets.length; i++)
        if (value <= (buckets[i] as number)) s.counts[i] = (s.counts[i] ?? 0) + 1;
      s.sum += value;
      s.count += 1;
    };
    return {
      observe: (value: number, labels: Labels = {}) => observe(key(labels), value),
      /** One series, its key computed once (see counter). */
      series: (labels: Labels) => {
        const k = key(labels);
        return { observe: (value: number) => observe(k, value) };
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
