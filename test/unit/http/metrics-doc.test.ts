/**
 * docs/metrics.md and the metrics registry list the same metrics, with the same types and labels:
 * a metric added to the code without its row, or a row left behind, fails here.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/http/metrics.js';
import { documentedMetricTable } from '../../support/metrics-doc.js';

interface Described {
  name: string;
  type: string;
  labelNames?: string[];
}

const described = (registry: Registry): Described[] =>
  (registry.getMetricsAsArray() as unknown as { name: string; type: string; labelNames?: string[] }[]).map(
    (m) => ({ name: m.name, type: String(m.type), labelNames: m.labelNames ?? [] }),
  );

describe('docs/metrics.md', () => {
  it('documents every metric the registry has, with its type and labels, and nothing else', async () => {
    const { metrics: documented, prefixes } = await documentedMetricTable();
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults, prefix: 'patchbot_' });
    const defaultNames = new Set(described(defaults).map((m) => m.name));
    // the process metrics are documented as a family, by prefix
    for (const name of defaultNames)
      expect(
        prefixes.some((p) => name.startsWith(p)),
        name,
      ).toBe(true);

    const ours = described(new Metrics().registry).filter((m) => !defaultNames.has(m.name));
    expect(ours.map((m) => m.name).sort()).toEqual(documented.map((m) => m.name).sort());
    for (const m of ours) {
      const doc = documented.find((d) => d.name === m.name);
      expect(doc?.type, m.name).toBe(m.type);
      expect([...(doc?.labels ?? [])].sort(), m.name).toEqual([...(m.labelNames ?? [])].sort());
    }
  });
});
