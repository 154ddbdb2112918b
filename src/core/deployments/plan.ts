/**
 * Deployment planning: which hosts go into which ring, in what order, and the earliest time each
 * host and ring can start given maintenance windows and soak time.
 *
 * Ring assignment, in this order:
 * 1. A host that names its ring (`ring`, the policy's per-host override) goes into that ring. A name
 *    no ring has puts the host in the last ring, with a warning.
 * 2. The rings are walked in order; each takes from the hosts not yet placed: a `label` selector the
 *    hosts carrying that label value, a `hosts` selector the named hosts, a `percent` selector that
 *    share of the remaining hosts (rounded up, so a 10% canary of 3 hosts is 1 host) taken in a
 *    deterministic order (sha256 of the host name, then the name), and a ring without selector all
 *    remaining hosts.
 * 3. Hosts no ring took go into the last ring. Rings left without hosts are dropped.
 *
 * Timing (an estimate for the plan; the jobs decide the real times): the first ring may start at
 * `now`. A host starts at the ring's start when it has no window (or in the emergency lane), else
 * at its window's next opening at or after the ring's start (now, if the window is open). The
 * ring's estimated end is its last host start plus one `hostDurationMs` per wave of `concurrency`
 * hosts; the next ring may start at that estimated end plus the ring's soak time. A real rollout
 * starts the next ring only after the previous one has actually finished and soaked.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { FailureBudget } from './state.js';
import { earliestStartInWindow, type DateRange, type MaintenanceWindowSpec } from './windows.js';

export const DEFAULT_HOST_DURATION_MS = 10 * 60_000;

export const RingSelector = z.union([
  z.object({ label: z.object({ key: z.string().min(1), value: z.string() }) }),
  z.object({ percent: z.number().gt(0).max(100) }),
  z.object({ hosts: z.array(z.string().min(1)) }),
]);
export type RingSelector = z.infer<typeof RingSelector>;

export const RingSpec = z.object({
  name: z.string().min(1),
  /** Absent: every host not taken by an earlier ring. */
  selector: RingSelector.optional(),
  concurrency: z.number().int().min(1).default(1),
  soakMs: z.number().int().min(0).default(0),
  failureBudget: FailureBudget.default({ count: 0 }),
});
export type RingSpec = z.output<typeof RingSpec>;

export const PlanHost = z.object({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()).default({}),
  /** Put the host in this ring whatever the selectors say. */
  ring: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  /** Name of the maintenance window that applies to the host. */
  window: z.string().min(1).optional(),
});
export type PlanHost = z.output<typeof PlanHost>;

export interface PlanInput {
  hosts: readonly z.input<typeof PlanHost>[];
  rings: readonly z.input<typeof RingSpec>[];
  /** Windows by name (hosts refer to them by `window`). */
  windows: readonly MaintenanceWindowSpec[];
  /** The emergency lane: hosts do not wait for their windows. */
  emergency: boolean;
  now: Date;
  /** Emergency lane only: also skip the soak time between rings. */
  skipSoak?: boolean;
  /** Hosts without a window cannot be scheduled (policy `deployments.requireWindow`). */
  requireWindow?: boolean;
  /** Fleet-wide blackout dates, applied in each window's time zone. */
  blackoutDates?: readonly DateRange[];
  /** Estimated time one host takes (install, verify, reboot, health check); default 10 minutes. */
  hostDurationMs?: number;
}

export interface PlannedHost {
  name: string;
  group?: string;
  window?: string;
  /** Earliest time work on the host may start; null when it cannot be scheduled. */
  earliestStart: Date | null;
  /** The window occurrence the host runs in, when it has one. */
  windowBounds?: { start: Date; end: Date };
  /** Why the host starts when it does, or why it cannot be scheduled. */
  note: string;
}

export interface PlannedRing {
  index: number;
  name: string;
  concurrency: number;
  soakMs: number;
  failureBudget: FailureBudget;
  /** The earliest the ring may start (after the previous ring's estimated end and soak). */
  notBefore: Date;
  /** The earliest host start in the ring (null when no host can be scheduled). */
  start: Date | null;
  /** Estimated end, used to place the next ring. */
  estimatedEnd: Date;
  /** Ordered by earliest start, then the deterministic host order. */
  hosts: PlannedHost[];
}

export interface DeploymentPlan {
  emergency: boolean;
  createdAt: Date;
  rings: PlannedRing[];
  /** Hosts that cannot be scheduled (no window opening within the horizon, window required). */
  unschedulable: string[];
  warnings: string[];
}

/** Deterministic order for percentage slices: sha256 of the name, ties by the name. */
export function hostOrderKey(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

function byHash(a: PlanHost, b: PlanHost): number {
  const ka = hostOrderKey(a.name);
  const kb = hostOrderKey(b.name);
  return ka < kb ? -1 : ka > kb ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Which hosts go into which ring (before timing); rings in order, empty rings included. */
export function assignRings(
  hosts: readonly PlanHost[],
  rings: readonly RingSpec[],
): { ring: RingSpec; hosts: PlanHost[] }[] {
  const warnings: string[] = [];
  return assign(hosts, rings, warnings);
}

function assign(
  hosts: readonly PlanHost[],
  rings: readonly RingSpec[],
  warnings: string[],
): { ring: RingSpec; hosts: PlanHost[] }[] {
  const out = rings.map((ring) => ({ ring, hosts: [] as PlanHost[] }));
  const last = out[out.length - 1];
  if (!last) throw new ValidationError('A deployment plan needs at least one ring');
  const byName = new Map(out.map((o) => [o.ring.name, o]));
  const remaining: PlanHost[] = [];
  for (const h of [...hosts].sort(byHash)) {
    if (h.ring === undefined) {
      remaining.push(h);
      continue;
    }
    const target = byName.get(h.ring);
    if (target) {
      target.hosts.push(h);
    } else {
      warnings.push(
        `host ${h.name} names ring "${h.ring}", which the policy does not have; it goes into the last ring (${last.ring.name})`,
      );
      last.hosts.push(h);
    }
  }
  let pool = remaining;
  for (const o of out) {
    const sel = o.ring.selector;
    let taken: PlanHost[];
    if (sel === undefined) taken = pool;
    else if ('label' in sel) taken = pool.filter((h) => h.labels[sel.label.key] === sel.label.value);
    else if ('hosts' in sel) taken = pool.filter((h) => sel.hosts.includes(h.name));
    else taken = pool.slice(0, Math.ceil((pool.length * sel.percent) / 100));
    const set = new Set(taken);
    o.hosts.push(...taken);
    pool = pool.filter((h) => !set.has(h));
  }
  last.hosts.push(...pool);
  for (const o of out) o.hosts.sort(byHash);
  return out;
}

export function planDeployment(input: PlanInput): DeploymentPlan {
  const hosts = input.hosts.map((h, i) => {
    const r = PlanHost.safeParse(h);
    if (!r.success)
      throw new ValidationError(`host #${i + 1} in the plan is invalid: ${r.error.issues[0]?.message ?? ''}`);
    return r.data;
  });
  const rings = input.rings.map((r, i) => {
    const parsed = RingSpec.safeParse(r);
    if (!parsed.success) {
      throw new ValidationError(
        `ring #${i + 1} in the plan is invalid: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    }
    return parsed.data;
  });
  const seen = new Set<string>();
  for (const h of hosts) {
    if (seen.has(h.name)) throw new ValidationError(`host ${h.name} appears twice in the deployment`);
    seen.add(h.name);
  }
  const windows = new Map(input.windows.map((w) => [w.name, w]));
  for (const h of hosts) {
    if (h.window !== undefined && !windows.has(h.window)) {
      throw new ValidationError(
        `host ${h.name} names maintenance window "${h.window}", which is not defined`,
      );
    }
  }
  const hostDuration = input.hostDurationMs ?? DEFAULT_HOST_DURATION_MS;
  const warnings: string[] = [];
  const assigned = assign(hosts, rings, warnings).filter((o) => o.hosts.length > 0);
  const unschedulable: string[] = [];
  const planned: PlannedRing[] = [];
  let notBefore = input.now;

  assigned.forEach(({ ring, hosts: ringHosts }, index) => {
    const plannedHosts = ringHosts.map((h) => planHost(h, notBefore, input, windows));
    const order = new Map(ringHosts.map((h, i) => [h.name, i]));
    plannedHosts.sort(
      (a, b) =>
        (a.earliestStart?.getTime() ?? Infinity) - (b.earliestStart?.getTime() ?? Infinity) ||
        (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0),
    );
    for (const h of plannedHosts) if (h.earliestStart === null) unschedulable.push(h.name);
    const starts = plannedHosts.flatMap((h) => (h.earliestStart ? [h.earliestStart.getTime()] : []));
    const start = starts.length > 0 ? new Date(Math.min(...starts)) : null;
    const lastStart = starts.length > 0 ? Math.max(...starts) : notBefore.getTime();
    const waves = Math.ceil(starts.length / ring.concurrency);
    const estimatedEnd = new Date(lastStart + waves * hostDuration);
    planned.push({
      index,
      name: ring.name,
      concurrency: ring.concurrency,
      soakMs: ring.soakMs,
      failureBudget: ring.failureBudget,
      notBefore,
      start,
      estimatedEnd,
      hosts: plannedHosts,
    });
    const soak = input.emergency && input.skipSoak ? 0 : ring.soakMs;
    notBefore = new Date(estimatedEnd.getTime() + soak);
  });
  if (unschedulable.length > 0) {
    warnings.push(`${unschedulable.length} host(s) cannot be scheduled: ${unschedulable.join(', ')}`);
  }
  return { emergency: input.emergency, createdAt: input.now, rings: planned, unschedulable, warnings };
}

function planHost(
  h: PlanHost,
  notBefore: Date,
  input: PlanInput,
  windows: ReadonlyMap<string, MaintenanceWindowSpec>,
): PlannedHost {
  const base = {
    name: h.name,
    ...(h.group !== undefined ? { group: h.group } : {}),
    ...(h.window !== undefined ? { window: h.window } : {}),
  };
  if (input.emergency) {
    return {
      ...base,
      earliestStart: notBefore,
      note: 'emergency lane: does not wait for a maintenance window',
    };
  }
  const window = h.window === undefined ? undefined : windows.get(h.window);
  if (!window) {
    if (input.requireWindow) {
      return { ...base, earliestStart: null, note: 'no maintenance window, and the policy requires one' };
    }
    return { ...base, earliestStart: notBefore, note: 'no maintenance window: starts when its ring starts' };
  }
  const next = earliestStartInWindow(window, notBefore, {
    ...(input.blackoutDates ? { blackoutDates: input.blackoutDates } : {}),
  });
  if (!next) {
    return {
      ...base,
      earliestStart: null,
      note: `window ${window.name} does not open within the next 400 days`,
    };
  }
  return {
    ...base,
    earliestStart: next.at,
    windowBounds: next.bounds,
    note:
      next.at.getTime() === notBefore.getTime()
        ? `window ${window.name} is open`
        : `waits for window ${window.name}`,
  };
}
