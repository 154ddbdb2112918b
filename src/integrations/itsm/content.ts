/**
 * What a change record says, for every ITSM tool: the summary, the description, the
 * implementation plan (the rings), the test plan (the first ring and the health checks), the
 * backout plan (what rollback does and what it cannot undo), the planned start and end, the risk,
 * and the lines ring progress adds. Built from the change and its deployment as stored.
 */
import { z } from 'zod';
import type { PatchbotEvent } from '../../core/events/event.js';
import type { Policy } from '../../config/policy-schema.js';
import type { ChangeDetail } from '../../db/repositories/change-repository.js';
import type { DeploymentDetail } from '../../db/repositories/deployment-repository.js';

export interface ChangeContext {
  change: ChangeDetail;
  /** The change's deployment the event is about, or its latest one; undefined before it is planned. */
  deployment: DeploymentDetail | undefined;
  /** The change's chat thread, when known. */
  threadUrl: string | undefined;
}

export const hostNames = (c: ChangeDetail): string[] =>
  [...new Set(c.findings.map((f) => f.hostName))].sort();

/** "#42 openssl >= 3.0.15-1~deb12u1 on 3 hosts (payments)" */
export function shortDescription(c: ChangeDetail): string {
  const hosts = hostNames(c);
  const team = c.team ? ` (${c.team})` : '';
  const s = `patchbot #${c.number}: ${c.packageName} ${c.fixedVersion} on ${hosts.length} host${hosts.length === 1 ? '' : 's'}${team}`;
  return s.length > 160 ? `${s.slice(0, 159)}…` : s;
}

/** The band of a risk score as people read it; an unknown score is unknown, never low. */
export function riskBand(c: Pick<ChangeDetail, 'riskScore' | 'severity' | 'kev'>): {
  band: 'critical' | 'high' | 'medium' | 'low' | 'unknown';
  text: string;
} {
  if (c.riskScore === null) {
    return { band: 'unknown', text: 'risk score unknown (treated as high)' };
  }
  const s = c.riskScore;
  const band = s >= 90 || c.kev ? 'critical' : s >= 70 ? 'high' : s >= 40 ? 'medium' : 'low';
  return { band, text: `risk score ${Math.round(s)}/100 (${band}${c.kev ? ', known exploited' : ''})` };
}

export function description(ctx: ChangeContext): string {
  const c = ctx.change;
  const cves = [...new Set(c.findings.flatMap((f) => f.cves))].sort();
  const advisories = [...new Set(c.findings.map((f) => f.advisoryId))].sort();
  const lines = [
    `Install ${c.packageName} ${c.fixedVersion} or later (${c.ecosystem}) on ${hostNames(c).join(', ') || 'no host'}.`,
    `Lane: ${c.emergency ? 'emergency' : 'normal'}. ${riskBand(c).text}.`,
    advisories.length > 0 ? `Advisories: ${advisories.join(', ')}.` : '',
    cves.length > 0
      ? `CVEs: ${cves.slice(0, 50).join(', ')}${cves.length > 50 ? ` and ${cves.length - 50} more` : ''}.`
      : '',
    `Team: ${c.team ?? 'none'}.`,
    ctx.threadUrl ? `Chat thread: ${ctx.threadUrl}` : '',
    `Recorded by patchbot (change #${c.number}); patchbot updates this record as the rollout moves.`,
  ];
  return lines.filter((l) => l !== '').join('\n');
}

const pct = (n: number) => `${Math.round(n * 100) / 100}%`;
const budgetText = (b: { count: number } | { percent: number }): string =>
  'count' in b ? `${b.count} failed host${b.count === 1 ? '' : 's'}` : pct(b.percent);
const duration = (s: number): string =>
  s === 0
    ? 'no soak'
    : s % 3600 === 0
      ? `soak ${s / 3600} h`
      : s % 60 === 0
        ? `soak ${s / 60} min`
        : `soak ${s} s`;

/** The rings, host by host, once the deployment is planned; the policy's rings before. */
export function implementationPlan(ctx: ChangeContext, policy: Pick<Policy, 'rings'>): string {
  const d = ctx.deployment;
  const c = ctx.change;
  if (!d) {
    const rings = policy.rings.map((r) => r.name).join(' → ');
    return [
      `Staged rollout over SSH in the rings ${rings}; hosts: ${hostNames(c).join(', ')}.`,
      'Each host: package baseline, install, verification of the installed versions, reboot when needed, health checks.',
      'A ring over its failure budget halts the rollout. The exact rings and times are added here once the deployment is planned.',
    ].join('\n');
  }
  const lines = [
    `Deployment #${d.number}${d.emergency ? ' (emergency lane)' : ''}, ${d.rings.length} ring${d.rings.length === 1 ? '' : 's'}:`,
  ];
  for (const r of d.rings) {
    const hosts = r.hosts.map((h) => h.hostName).join(', ');
    lines.push(
      `${r.index + 1}. ${r.name}: ${hosts || 'no host'} (${r.concurrency} at a time, halts past ${budgetText(r.failureBudget)}, ${duration(r.soakSeconds)}${r.notBefore ? `, not before ${r.notBefore.toISOString()}` : ''})`,
    );
  }
  lines.push(
    'Each host: package baseline, install, verification of the installed versions, reboot when needed, health checks.',
  );
  return lines.join('\n');
}

export function testPlan(ctx: ChangeContext, policy: Pick<Policy, 'rings' | 'deployments'>): string {
  const first = ctx.deployment?.rings[0];
  const ring = first
    ? `The first ring (${first.name}: ${first.hosts.map((h) => h.hostName).join(', ')}) is the canary: the next ring starts only after it passed${first.soakSeconds > 0 ? ` and its ${duration(first.soakSeconds)}` : ''}.`
    : `The first ring (${policy.rings[0]?.name ?? 'canary'}) is the canary: the next ring starts only after it passed.`;
  const checks = policy.deployments.healthChecks;
  const checkLines =
    checks.length === 0
      ? ['Health checks: none configured; each host is verified by the installed package versions.']
      : [
          'Health checks after each host (a failure after the retries fails the host):',
          ...checks.map(
            (h) =>
              `- ${h.name}: ${h.command ? `command ${h.command.join(' ')}` : h.http ? `HTTP ${h.http.url} expecting ${h.http.expectStatus.join('/')}` : 'check'} (${h.retries} retries)`,
          ),
        ];
  return [
    ring,
    'Every host: the installed versions are read back and compared with the target versions.',
    ...checkLines,
  ].join('\n');
}

export function backoutPlan(policy: Pick<Policy, 'deployments'>): string {
  const auto =
    policy.deployments.onFailure === 'rollback'
      ? 'A ring over its failure budget is rolled back automatically.'
      : 'A ring over its failure budget halts the rollout; an operator rolls back with the Roll back button or `patchbot deploy rollback`.';
  return [
    auto,
    'Rollback reinstalls, host by host, the package versions recorded before the install (the pre-deployment baseline) and verifies them.',
    'Rollback cannot undo: a reboot already done; changes made by package maintainer scripts (configuration or data migrations); a version the package repository no longer offers (the host is reported as not rolled back); hosts whose install result is unknown until they are read again.',
  ].join('\n');
}

/** Planned start and end from the stored deployment (first ring's start, last ring's estimated end). */
export function plannedWindow(d: DeploymentDetail | undefined): { start?: Date; end?: Date } {
  if (!d) return {};
  const parsed = PlanTimes.safeParse(d.plan);
  if (!parsed.success) return {};
  const rings = parsed.data.plan.rings;
  const starts = rings
    .map((r) => r.start ?? r.notBefore)
    .filter((t): t is Date => t !== null && t !== undefined);
  const ends = rings.map((r) => r.estimatedEnd).filter((t): t is Date => t !== undefined);
  const start = starts.sort((a, b) => a.getTime() - b.getTime())[0];
  const end = ends.sort((a, b) => b.getTime() - a.getTime())[0];
  return { ...(start ? { start } : {}), ...(end ? { end } : {}) };
}

const PlanTimes = z.object({
  plan: z.object({
    rings: z.array(
      z.object({
        start: z.coerce.date().nullable().optional(),
        notBefore: z.coerce.date().optional(),
        estimatedEnd: z.coerce.date().optional(),
      }),
    ),
  }),
});

/** How a finished deployment went: every host done, some failed or skipped, or not done. */
export function outcome(
  d: DeploymentDetail | undefined,
  event: PatchbotEvent['type'],
): {
  result: 'successful' | 'successful_issues' | 'unsuccessful';
  notes: string;
} {
  const hosts = d?.rings.flatMap((r) => r.hosts) ?? [];
  const count = (s: string) => hosts.filter((h) => h.status === s).length;
  const ok = count('succeeded');
  const failed = count('failed') + count('rollback_failed');
  const rolledBack = count('rolled_back');
  const skipped = count('skipped');
  const counts = `${ok} succeeded, ${failed} failed, ${rolledBack} rolled back, ${skipped} skipped of ${hosts.length} hosts`;
  const dep = d ? `Deployment #${d.number}` : 'The deployment';
  if (event === 'deployment.completed') {
    if (failed === 0 && skipped === 0 && rolledBack === 0) {
      return { result: 'successful', notes: `${dep} completed: ${counts}.` };
    }
    return { result: 'successful_issues', notes: `${dep} completed with issues: ${counts}.` };
  }
  return {
    result: 'unsuccessful',
    notes: `${dep} ${event === 'deployment.rolled_back' ? 'was rolled back' : 'did not complete'}: ${counts}.`,
  };
}

const EventData = z
  .object({
    ring: z.union([z.string(), z.object({ name: z.string() }).transform((r) => r.name)]).optional(),
    host: z.string().optional(),
    reason: z.string().optional(),
    error: z.string().optional(),
    actor: z.string().optional(),
  })
  .loose();

/** One line for a progress event, as a work note or comment. */
export function progressLine(event: PatchbotEvent, ctx: ChangeContext): string | undefined {
  const data = EventData.safeParse(event.data);
  const d = data.success ? data.data : {};
  const dep = ctx.deployment ? `Deployment #${ctx.deployment.number}` : 'The deployment';
  const ringOf = () => {
    if (d.ring) return d.ring;
    const idx = ctx.deployment?.rings.findLast((r) => r.state === 'passed');
    return idx?.name ?? 'a ring';
  };
  switch (event.type) {
    case 'deployment.planned':
      return `${dep} planned: ${ctx.deployment?.rings.map((r) => `${r.name} (${r.hosts.length})`).join(', ') ?? ''}.`;
    case 'deployment.started':
      return `${dep} started.`;
    case 'deployment.ring_completed': {
      const ring = ctx.deployment?.rings.find((r) => r.name === ringOf());
      const hosts = ring?.hosts ?? [];
      const n = (s: string) => hosts.filter((h) => h.status === s).length;
      return `Ring ${ringOf()} passed: ${n('succeeded')} succeeded, ${n('failed')} failed, ${n('skipped')} skipped.`;
    }
    case 'host.failed':
      return `Host ${d.host ?? 'unknown'} failed${d.ring ? ` in ring ${d.ring}` : ''}${d.error ? `: ${d.error}` : ''}.`;
    case 'deployment.halted':
      return `${dep} halted${d.reason ? `: ${d.reason}` : ''}.`;
    case 'deployment.rolled_back':
      return `${dep} rolled back${d.reason ? `: ${d.reason}` : ''}.`;
    case 'deployment.completed':
      return outcome(ctx.deployment, event.type).notes;
    case 'change.deferred':
      return `Change #${ctx.change.number} deferred${d.reason ? `: ${d.reason}` : ''}.`;
    case 'change.risk_accepted':
      return `Risk accepted for change #${ctx.change.number}${d.reason ? `: ${d.reason}` : ''}; no rollout.`;
    case 'change.escalated':
      return `Change #${ctx.change.number} escalated${d.reason ? `: ${d.reason}` : ''}.`;
    default:
      return undefined;
  }
}
