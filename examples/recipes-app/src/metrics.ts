// Prometheus metrics, one registry per app instance (several apps may share a test process).
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface Metrics {
  /** Records one answered request; `route` is a template (`/api/recipes/:id`), never a raw path. */
  observe(method: string, route: string, status: number, seconds: number): void;
  contentType: string;
  render(): Promise<string>;
}

// Process metrics describe the process, not an app, and collecting them installs observers and
// timers that are never removed; so one collection serves every app in the process.
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  const shared = processMetrics();
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by route template and status.', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route template and status.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  return {
    observe(method, route, status, seconds) {
      // Methods come from the client: an arbitrary token must not become a new time series.
      const labels = { method: METHODS.has(method) ? method : 'OTHER', route, status: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    contentType: registry.contentType,
    render: async () => `${await registry.metrics()}\n${await shared.metrics()}`,
  };
}
