/**
 * `patchbot report coverage [--team T] [--format text|json|csv]`: the coverage metrics of the
 * fleet or one team (docs/metrics.md), with the change against last week's snapshot, the trend,
 * and the same numbers per team, environment and host group. The report is the one
 * `/patch coverage` answers with, so both give the same numbers.
 */
import { Option, type Command } from 'commander';
import { feedShort } from '../../core/freshness/feeds.js';
import { HOST_STATE_LABELS, HOST_STATES } from '../../core/metrics/coverage.js';
import {
  AGE_BUCKETS,
  flattenMetrics,
  SEVERITIES,
  type ScopeMetrics,
} from '../../core/metrics/definitions.js';
import {
  formatChange,
  formatCount,
  formatDays,
  formatPercent,
  formatValue,
} from '../../core/metrics/format.js';
import { hostStatesLine } from '../../bot/views/coverage-text.js';
import { coverageReport, type CoverageReport } from '../../usecases/metrics.js';
import { withApp } from '../context.js';
import { writeLine, type CliIo } from '../io.js';

type Format = 'text' | 'json' | 'csv';

/** The report as JSON data (dates as ISO strings); every host's state with `hosts`. */
export function reportJson(r: CoverageReport, options: { hosts?: boolean } = {}): Record<string, unknown> {
  return {
    scope: r.scope,
    asOf: r.asOf.toISOString(),
    weekStart: r.weekStart,
    notice: r.notice ?? null,
    feeds: r.feeds,
    metrics: r.metrics,
    headlines: r.headlines,
    trend: r.trend,
    breakdown: r.breakdown,
    ...(options.hosts
      ? {
          hosts: r.hosts.map((h) => ({
            name: h.name,
            team: h.team,
            environment: h.environment,
            groups: h.groups,
            state: h.state,
            detail: h.detail,
            lastInventoryAt: h.lastInventoryAt?.toISOString() ?? null,
          })),
        }
      : {}),
  };
}

/** One row per host: its coverage state and why (`report coverage --hosts --format csv`). */
export function hostsCsv(r: CoverageReport): string {
  const lines = [['host', 'team', 'environment', 'groups', 'state', 'detail', 'last_inventory_at'].join(',')];
  for (const h of r.hosts)
    lines.push(
      [
        h.name,
        h.team,
        h.environment,
        h.groups.join(' '),
        h.state,
        h.detail,
        h.lastInventoryAt?.toISOString() ?? null,
      ]
        .map(csvField)
        .join(','),
    );
  return `${lines.join('\r\n')}\r\n`;
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'number' ? String(v) : v;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One row per scope: the report's own scope first, then every breakdown row. */
export function reportCsv(r: CoverageReport): string {
  const rows: { kind: string; name: string; m: ScopeMetrics }[] = [
    { kind: r.scope.kind, name: r.scope.name, m: r.metrics },
    ...r.breakdown.flatMap((b) => b.rows.map((row) => ({ kind: b.kind, name: row.name, m: row.metrics }))),
  ];
  const flat = rows.map((row) => ({ kind: row.kind, name: row.name, ...flattenMetrics(row.m) }));
  const columns = Object.keys(flat[0] ?? {});
  const lines = [columns.map(csvField).join(',')];
  for (const f of flat)
    lines.push(
      columns.map((c) => csvField((f as Record<string, string | number | null>)[c] ?? null)).join(','),
    );
  return `${lines.join('\r\n')}\r\n`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function reportText(r: CoverageReport, options: { hosts?: boolean } = {}): string[] {
  const m = r.metrics;
  const out: string[] = [];
  if (r.notice !== undefined) out.push(`WARNING: ${r.notice}`);
  out.push(
    `Coverage of ${r.scope.kind === 'fleet' ? 'the fleet' : `team ${r.scope.name}`}, as of ${r.asOf.toISOString()} (week of ${r.weekStart})`,
  );
  out.push(
    `Host coverage ${formatPercent(m.hosts.coverage)} (${m.hosts.covered} of ${m.hosts.total} hosts): assessed, with no open finding at ${m.threshold} risk or above`,
  );
  const states = hostStatesLine(m);
  if (states !== undefined) out.push(`  ${states}`);
  for (const state of HOST_STATES) {
    if (state === 'covered' && !options.hosts) continue;
    const list = r.hosts.filter((h) => h.state === state);
    if (list.length === 0) continue;
    if (options.hosts) {
      out.push(`  ${HOST_STATE_LABELS[state]} (${list.length}):`);
      for (const h of list) out.push(`    ${h.name}${h.detail ? `: ${h.detail}` : ''}`);
    }
  }
  if (!options.hosts && r.hosts.some((h) => h.state !== 'covered'))
    out.push('  (--hosts names every host and why it is not covered)');
  out.push(
    `Advisory data: ${r.feeds.length === 0 ? 'none loaded (run `patchbot feeds sync`)' : r.feeds.map(feedShort).join(', ')}`,
  );
  out.push('');
  for (const h of r.headlines) {
    const change = formatChange(h);
    out.push(
      `  ${pad(h.label, 44)} ${pad(formatValue(h.value, h.unit), 10)}${change ? ` ${change} vs last week` : ''}`,
    );
  }
  out.push('');
  out.push(
    `Open findings ${formatCount(m.open.total)} (${formatCount(m.open.atOrAboveThreshold)} at ${m.threshold} or above): ` +
      SEVERITIES.map((b) => `${b} ${formatCount(m.open.byBand[b])}`).join(', '),
  );
  out.push(
    `  by age: ${AGE_BUCKETS.map((a) => `${a.label} ${formatCount(m.open.byAge[a.key])}`).join(', ')}`,
  );
  if (m.open.byKind)
    out.push(
      `  by kind: OS ${formatCount(m.open.byKind.os)}, third-party ${formatCount(m.open.byKind.thirdParty)}, firmware ${formatCount(m.open.byKind.firmware)}`,
    );
  out.push(
    `  SLA breaches ${formatCount(m.open.overdue)}, due this week ${formatCount(m.open.dueThisWeek)}, KEV open ${formatCount(m.kev.open)}, KEV overdue ${formatCount(m.kev.overdue)}`,
  );
  out.push(
    `SLA compliance, last ${m.periodDays} days: ${formatPercent(m.sla.overall.compliance)} (${m.sla.overall.met}/${m.sla.overall.due}); ` +
      SEVERITIES.filter((b) => m.sla.bySeverity[b].due > 0)
        .map(
          (b) =>
            `${b} ${formatPercent(m.sla.bySeverity[b].compliance)} (${m.sla.bySeverity[b].met}/${m.sla.bySeverity[b].due})`,
        )
        .join(', '),
  );
  out.push(
    `Time to remediate, last ${m.periodDays} days: mean ${formatDays(m.remediation.overall.meanDays)}, p90 ${formatDays(m.remediation.overall.p90Days)} (${m.remediation.overall.fixed} fixed)`,
  );
  for (const b of SEVERITIES) {
    const c = m.remediation.bySeverity[b];
    if (c.fixed > 0)
      out.push(
        `  ${pad(b, 9)} mean ${formatDays(c.meanDays)}, p90 ${formatDays(c.p90Days)} (${c.fixed} fixed)`,
      );
  }
  out.push(
    `Deployments, last ${m.periodDays} days: ${formatPercent(m.deployments.successRate)} of ${m.deployments.hostRuns} host runs succeeded`,
  );
  out.push(
    `Accepted risks ${m.acceptedRisks.active} (${m.acceptedRisks.expiringSoon} expiring within ${m.acceptedRisks.withinDays} days); hosts needing a reboot ${m.hosts.rebootRequired}`,
  );
  for (const b of r.breakdown) {
    if (b.rows.length === 0) continue;
    out.push('');
    out.push(`By ${b.kind === 'group' ? 'host group' : b.kind}:`);
    const width = Math.min(40, Math.max(8, ...b.rows.map((row) => row.name.length)));
    out.push(
      `  ${pad('name', width)}  ${pad('hosts', 6)} ${pad('coverage', 9)} ${pad(`${m.threshold}+`, 9)} ${pad('overdue', 8)} ${pad('KEV due', 8)} ${pad('SLA', 7)} MTTR`,
    );
    for (const row of b.rows) {
      const x = row.metrics;
      out.push(
        `  ${pad(row.name, width)}  ${pad(String(x.hosts.total), 6)} ${pad(formatPercent(x.hosts.coverage), 9)} ` +
          `${pad(formatCount(x.open.atOrAboveThreshold), 9)} ${pad(formatCount(x.open.overdue), 8)} ${pad(formatCount(x.kev.overdue), 8)} ` +
          `${pad(formatPercent(x.sla.overall.compliance), 7)} ${formatDays(x.remediation.overall.meanDays)}`,
      );
    }
  }
  out.push('');
  out.push(`Trend (${r.trend.length} weeks, oldest first; - = no snapshot):`);
  for (const p of r.trend)
    out.push(
      `  ${p.weekStart}  coverage ${pad(p.coverage === null ? '-' : formatPercent(p.coverage), 7)} open risk ${p.openRisk === null ? '-' : formatCount(p.openRisk)}`,
    );
  return out;
}

export function registerReport(program: Command, io: CliIo): void {
  const report = program
    .command('report')
    .description('Reports from the stored data (coverage metrics, SLA compliance, time to remediate)');
  report
    .command('coverage')
    .description(
      'Coverage metrics of the fleet or one team: host coverage, SLA compliance, open findings by risk and ' +
        'age, KEV, time to remediate, deployments, accepted risks, reboots, week-over-week change and trend',
    )
    .option('--team <team>', 'one team (default: the fleet, with a row per team)')
    .option('--hosts', 'name every host with its state (covered, at risk, never scanned...) and why')
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'json', 'csv']).default('text'),
    )
    .action(async (o: { team?: string; hosts?: boolean; format: Format }) => {
      const hosts = o.hosts === true;
      await withApp(io, { format: o.format }, async (app) => {
        const r = await coverageReport(
          { repos: app.repos, policy: app.config.policy, now: new Date() },
          o.team,
        );
        if (o.format === 'json') writeLine(io.stdout, JSON.stringify(reportJson(r, { hosts }), null, 2));
        else if (o.format === 'csv') io.stdout.write(hosts ? hostsCsv(r) : reportCsv(r));
        else for (const line of reportText(r, { hosts })) writeLine(io.stdout, line);
      });
    });
}
