import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * The services' metrics in this process, as a Prometheus scraper reads them:
 * installed as the global meter provider (before the services start, which
 * take their meters from it), read with `scrape`, removed with `close`.
 */
export function prometheusScraper(): { scrape(): Promise<string>; close(): Promise<void> } {
  const exporter = new PrometheusExporter({ host: '127.0.0.1', port: 0, preventServerStart: true });
  const meters = new MeterProvider({ readers: [exporter] });
  metrics.setGlobalMeterProvider(meters);
  return {
    scrape: () =>
      new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        const res = {
          statusCode: 0,
          setHeader: () => undefined,
          write: (c: string | Buffer) => chunks.push(Buffer.from(c)),
          end: (c?: string | Buffer) => {
            if (c) chunks.push(Buffer.from(c));
            resolve(Buffer.concat(chunks).toString());
          },
          on: () => undefined,
        };
        try {
          exporter.getMetricsRequestHandler({} as never, res as never);
        } catch (e) {
          reject(e as Error);
        }
      }),
    close: async () => {
      await meters.shutdown();
      metrics.disable();
    },
  };
}

/** A gauge's value in a scrape, for the series whose labels include `labels`; undefined when absent. */
export function gaugeValue(
  text: string,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  for (const m of text.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)`, 'gm'))) {
    const have = m[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(m[2]);
  }
  return undefined;
}
