/**
 * `patchbot deploy plan|start|status|pause|resume|abort|rollback`: staged deployments of approved
 * changes. `plan` shows the rings, hosts, packages and the times they would run (nothing is stored);
 * `start` schedules an approved change (its jobs run in `patchbot worker`); the control commands act
 * on a deployment as the chat buttons do. Every change is audited with the CLI user.
 */
import { createCabHold } from '../../integrations/itsm/index.js';
import { Option, type Command } from 'commander';
import type { DeploymentPlan } from '../../core/deployments/plan.js';
import type { DeploymentDetail } from '../../db/repositories/deployment-repository.js';
import { DeploymentRepository } from '../../db/repositories/deployment-repository.js';
import { installationId } from '../../db/index.js';
import { connectRedis } from '../../jobs/connection.js';
import { resolveQueuePrefix } from '../../jobs/prefix.js';
import { createDeploymentJobHandlers } from '../../jobs/deployments/handlers.js';
import { createExecutorFactory } from '../../usecases/deployments/executors.js';
import { firstLines } from '../../usecases/deployments/host-run.js';
import type { PlannedHostTargets as PlannedHostTargetsView } from '../../usecases/deployments/plan.js';
import {
  deploymentControl,
  previewDeployment,
  scheduleDeployment,
  type ControlAction,
  type ServiceDeps,
} from '../../usecases/deployments/service.js';
import type { EngineDeps } from '../../usecases/deployments/types.js';
import { NotFoundError } from '../../core/errors.js';
import { withApp, type AppContext } from '../context.js';
import { openChangeLines } from './changes.js';
import { writeLine, type CliIo } from '../io.js';
import { cliActor, syncHostsFromPolicy } from './hosts.js';

type Format = 'text' | 'json';

const iso = (d: Date | null | undefined): string => (d ? d.toISOString().replace('.000Z', 'Z') : '-');

function planLines(plan: DeploymentPlan, hosts: readonly PlannedHostTargetsView[]): string[] {
  const targets = new Map(hosts.map((h) => [h.hostName, h]));
  const lines: string[] = [];
  lines.push(
    `${plan.emergency ? 'EMERGENCY lane: hosts do not wait for their windows. ' : ''}${plan.rings.length} ring(s)`,
  );
  for (const r of plan.rings) {
    const budget =
      'count' in r.failureBudget ? `${r.failureBudget.count} host(s)` : `${r.failureBudget.percent}%`;
    lines.push(
      `ring ${r.index + 1}/${plan.rings.length} ${r.name}: ${r.hosts.length} host(s), concurrency ${r.concurrency}, ` +
        `failure budget ${budget}, soak ${Math.round(r.soakMs / 60_000)} min; starts ${iso(r.start)} (not before ${iso(r.notBefore)}), est. end ${iso(r.estimatedEnd)}`,
    );
    for (const h of r.hosts) {
      const t = targets.get(h.name);
      const pkgs = t
        ? `${t.tool}: ${t.targets.map((p) => `${p.name}${p.arch ? `:${p.arch}` : ''}=${p.version}`).join(' ')}`
        : '';
      lines.push(
        `  ${h.name.padEnd(24)} ${iso(h.earliestStart).padEnd(21)} ${h.note}${pkgs ? `; ${pkgs}` : ''}`,
      );
    }
  }
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  return lines;
}

export function statusLines(d: DeploymentDetail): string[] {
  const s = d.state;
  const lines = [
    `deployment #${d.number} of change #${d.changeNumber}: ${s.status.replaceAll('_', ' ')}` +
      `${s.status === 'paused' && s.pausedFrom ? ` (from ${s.pausedFrom.replaceAll('_', ' ')})` : ''}, ring ${s.ring + 1}/${s.ringCount}` +
      `${d.emergency ? ', emergency lane' : ''}`,
  ];
  if (s.haltReason) lines.push(`halted: ${s.haltReason}`);
  lines.push(
    `created ${iso(d.createdAt)} by ${d.createdBy}; started ${iso(d.startedAt)}; finished ${iso(d.finishedAt)}`,
  );
  for (const r of d.rings) {
    const count = (st: string) => r.hosts.filter((h) => h.status === st).length;
    lines.push(
      `ring ${r.index + 1} ${r.name}: ${r.state.replaceAll('_', ' ')}; ${count('succeeded')} succeeded, ${count('failed')} failed, ` +
        `${count('skipped')} skipped, ${r.hosts.length} total${r.soakUntil ? `; soak until ${iso(r.soakUntil)}` : ''}`,
    );
    for (const h of r.hosts) {
      const when = h.status === 'pending' ? `not before ${iso(h.notBefore)}` : `started ${iso(h.startedAt)}`;
      lines.push(`  ${h.hostName.padEnd(24)} ${h.status.replaceAll('_', ' ').padEnd(20)} ${when}`);
      if (h.error) for (const l of firstLines(h.error, 3).split('\n')) lines.push(`      ${l}`);
      if (h.rollbackError) {
        for (const l of firstLines(h.rollbackError, 3).split('\n')) lines.push(`      rollback: ${l}`);
      }
      // a host whose result is unknown says why and that it is being looked at again
      if (h.state === 'unknown' && h.output) lines.push(`      ${firstLines(h.output, 1)}`);
    }
  }
  return lines;
}

function statusJson(d: DeploymentDetail): unknown {
  return {
    id: d.id,
    number: d.number,
    change: d.changeNumber,
    state: d.state,
    emergency: d.emergency,
    createdAt: d.createdAt,
    startedAt: d.startedAt,
    finishedAt: d.finishedAt,
    rings: d.rings.map((r) => ({
      index: r.index,
      name: r.name,
      state: r.state,
      concurrency: r.concurrency,
      failureBudget: r.failureBudget,
      soakUntil: r.soakUntil,
      hosts: r.hosts.map((h) => ({
        host: h.hostName,
        status: h.status,
        step: h.step,
        attempt: h.attempt,
        targets: h.targets,
        preBaseline: h.preBaseline,
        postBaseline: h.postBaseline,
        rebootNeeded: h.rebootNeeded,
        notBefore: h.notBefore,
        startedAt: h.startedAt,
        finishedAt: h.finishedAt,
        error: h.error,
        rollbackError: h.rollbackError,
        rollback: h.rollbackReport,
      })),
    })),
  };
}

/** Runs `fn` with the engine's dependencies (Redis for the jobs) on top of the app context. */
async function withEngine<T>(
  io: CliIo,
  fn: (deps: ServiceDeps, app: AppContext) => Promise<T>,
  options: { redis?: boolean; format?: string } = {},
): Promise<T> {
  return withApp(io, { format: options.format ?? 'text' }, async (app) => {
    await syncHostsFromPolicy(app, io);
    const deployments = new DeploymentRepository(app.db.prisma, app.db.sql);
    const base: Omit<EngineDeps, 'scheduler'> = {
      deployments,
      audit: app.repos.audit,
      executors: createExecutorFactory({
        repos: app.repos,
        config: {
          policy: app.config.policy,
          policyPath: app.config.policyPath,
          env: { sshAuthSock: app.config.env.sshAuthSock },
        },
      }),
      now: () => new Date(),
      logger: app.logger,
    };
    // approval.itsm: required or only: a change waits for the CAB in ServiceNow here too
    const gate =
      app.config.policy.approval.itsm !== 'off' ? { gate: createCabHold(app.repos.itsmLinks) } : {};
    if (options.redis === false) {
      const offline: ServiceDeps = {
        ...base,
        scheduler: {
          enqueueRing: () => Promise.resolve(),
          enqueueAdvance: () => Promise.resolve(),
          enqueueRollback: () => Promise.resolve(),
          hasPendingJobs: () => Promise.resolve(false),
        },
        hosts: app.repos.hosts,
        policy: app.config.policy,
        ...gate,
      };
      return fn(offline, app);
    }
    const connection = await connectRedis(app.config.env.redisUrl, { role: 'producer' });
    const registration = createDeploymentJobHandlers({
      ...base,
      connection,
      prefix: await resolveQueuePrefix(app.config.env.queuePrefix, () => installationId(app.db)),
    });
    try {
      return await fn(
        { ...registration.engine, hosts: app.repos.hosts, policy: app.config.policy, ...gate },
        app,
      );
    } finally {
      await registration.close();
      connection.disconnect();
    }
  });
}

const formatOption = () =>
  new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');

export function registerDeploy(program: Command, io: CliIo): void {
  const deploy = program
    .command('deploy')
    .description(
      'Staged deployments of approved changes: plan, start, status, pause, resume, abort, rollback.',
    );

  deploy
    .command('plan')
    .description(
      'Show the rings, hosts, exact packages and times a change would be deployed with (stores nothing).',
    )
    .argument('<change>', 'change number (e.g. 42) or id')
    .option(
      '--emergency',
      'plan for the emergency lane (hosts skip their maintenance windows when the policy says so)',
    )
    .addOption(formatOption())
    .action(async (change: string, o: { emergency?: boolean; format: Format }) => {
      const preview = await withEngine(
        io,
        (deps, app) =>
          previewDeployment(deps, { changeId: change, emergency: o.emergency === true }).catch(
            async (err: unknown) => {
              if (!(err instanceof NotFoundError)) throw err;
              // A mistyped number: say which changes there are.
              const open = await openChangeLines(app);
              throw new NotFoundError(
                `${err.userMessage}; ${open.length > 0 ? `open changes:\n  ${open.join('\n  ')}` : 'there are no open changes (`patchbot changes list --status all` lists every change)'}`,
                { cause: err },
              );
            },
          ),
        { redis: false, format: o.format },
      );
      if (o.format === 'json') {
        writeLine(
          io.stdout,
          JSON.stringify(
            { change: preview.change.number, plan: preview.plan, hosts: preview.hosts },
            null,
            2,
          ),
        );
        return;
      }
      writeLine(
        io.stdout,
        `change #${preview.change.number}: ${preview.change.packageName} ${preview.change.fixedVersion} (${preview.change.ecosystem}, ${preview.change.status.replaceAll('_', ' ')})`,
      );
      for (const l of planLines(preview.plan, preview.hosts)) writeLine(io.stdout, l);
    });

  deploy
    .command('start')
    .description(
      "Schedule an approved change: its first ring starts in its hosts' windows (run `patchbot worker`).",
    )
    .argument('<change>', 'change number (e.g. 42) or id')
    .option(
      '--emergency',
      'use the emergency lane (policy approval.emergency decides whether the change may)',
    )
    .addOption(formatOption())
    .action(async (change: string, o: { emergency?: boolean; format: Format }) => {
      const result = await withEngine(
        io,
        (deps) =>
          scheduleDeployment(deps, {
            changeId: change,
            emergency: o.emergency === true,
            actor: cliActor(io),
          }),
        { format: o.format },
      );
      if (o.format === 'json') {
        writeLine(io.stdout, JSON.stringify(statusJson(result.deployment), null, 2));
        return;
      }
      writeLine(
        io.stdout,
        `deployment #${result.deployment.number} scheduled for change #${result.change.number}`,
      );
      for (const l of planLines(result.plan, result.hosts)) writeLine(io.stdout, l);
    });

  deploy
    .command('status')
    .description('Show a deployment: its state, rings, hosts, steps and errors.')
    .argument('<deployment>', 'deployment number (e.g. 7) or id')
    .addOption(formatOption())
    .action(async (ref: string, o: { format: Format }) => {
      const detail = await withApp(io, { format: o.format }, (app) =>
        new DeploymentRepository(app.db.prisma, app.db.sql).detail(ref),
      );
      if (o.format === 'json') writeLine(io.stdout, JSON.stringify(statusJson(detail), null, 2));
      else for (const l of statusLines(detail)) writeLine(io.stdout, l);
    });

  const actions: Record<ControlAction, string> = {
    pause: 'Pause a deployment: running hosts finish their step, no new host starts.',
    resume: 'Resume a paused deployment.',
    abort: 'Abort a deployment: no further host starts (roll back to restore the hosts already changed).',
    rollback: 'Roll back the hosts a deployment changed to their pre-deployment versions.',
  };
  for (const [action, description] of Object.entries(actions) as [ControlAction, string][]) {
    deploy
      .command(action)
      .description(description)
      .argument('<deployment>', 'deployment number (e.g. 7) or id')
      .action(async (ref: string) => {
        const result = await withEngine(io, (deps) =>
          deploymentControl(deps, { deploymentId: ref, action, actor: cliActor(io) }),
        );
        writeLine(io.stdout, result.message);
      });
  }
}
