import { Registry, collectDefaultMetrics, Histogram, Counter, Gauge } from 'prom-client'

export { Registry, Histogram, Counter, Gauge }

/** One registry per process, with Node's default metrics labelled by service. */
export function createMetricsRegistry (service: string): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  return registry
}
