/**
 * The Prometheus metrics docs/metrics.md documents ("Prometheus metrics" table): name, type and
 * labels of each, so tests can hold the registry and the exposition of real processes to it.
 * Rows whose name has a `*` (prom-client's default process metrics) are returned as prefixes.
 */
import { readFile } from 'node:fs/promises';

export interface DocumentedMetric {
  name: string;
  type: string;
  labels: string[];
}

const DOC = new URL('../../docs/metrics.md', import.meta.url);

export async function documentedMetricTable(): Promise<{ metrics: DocumentedMetric[]; prefixes: string[] }> {
  const text = await readFile(DOC, 'utf8');
  const start = text.indexOf('\n## Prometheus metrics\n');
  if (start < 0) throw new Error('docs/metrics.md has no "## Prometheus metrics" section');
  const rest = text.slice(start + 1);
  const end = rest.indexOf('\n## ', 3);
  const section = end < 0 ? rest : rest.slice(0, end);
  const metrics: DocumentedMetric[] = [];
  const prefixes: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.split('|').map((c) => c.trim());
    const names = [...(cells[1] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    const labels = [...(cells[3] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    for (const name of names) {
      if (name.endsWith('*')) prefixes.push(name.slice(0, -1));
      else metrics.push({ name, type: cells[2] ?? '', labels });
    }
  }
  return { metrics, prefixes };
}

export async function documentedMetrics(): Promise<DocumentedMetric[]> {
  return (await documentedMetricTable()).metrics;
}
