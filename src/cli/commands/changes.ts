/**
 * `patchbot changes list|show|request|approve|reject`: fix campaigns (change requests) without
 * chat. Decisions go through the same approval use case, ledger and policy as the chat buttons,
 * recorded from the `cli` surface: `--as <user>` names whose decision it is (a Slack user id or
 * an Entra object id the policy names; its roles apply), and the audit row keeps the operating
 * system user who typed it. When Slack or Teams is configured the campaign messages are updated
 * and the thread says who decided, as for a click.
 *
 * Exit status: 0 when recorded (or already recorded), 1 when refused or on error.
 */
import { itsmRecordText } from '../../bot/views/index.js';
import { itsmRecordViews } from '../../usecases/approvals/view.js';
import os from 'node:os';
import { Option, type Command } from 'commander';
import type { ChatPlatform } from '../../bot/chat-platform.js';
import { createSlackWebClient, slackGroupMembers, SlackPoster } from '../../bot/slack/index.js';
import { bearerToken, createTeamsEdge, entraGroupMembers } from '../../bot/teams/index.js';
import { ValidationError } from '../../core/errors.js';
import { ledgerState } from '../../core/policy/ledger.js';
import type { ChatAction } from '../../core/policy/roles.js';
import {
  OPEN_CHANGE_STATUSES,
  type ChangeDetail,
  type ChangeStatus,
} from '../../db/repositories/change-repository.js';
import {
  createApprovals,
  ledgerOf,
  ledgerPolicy,
  ruleFor,
  type DecideInput,
  type DecideResult,
} from '../../usecases/approvals/index.js';
import { createRoleCheck } from '../../usecases/roles.js';
import { createTeamsConversationStore } from '../../usecases/teams-installations.js';
import { withApp, type AppContext } from '../context.js';
import { CliExit, writeLine, type CliIo } from '../io.js';

type Format = 'text' | 'json';

const STATUSES: readonly ChangeStatus[] = [
  'pending',
  'approved',
  'rejected',
  'deferred',
  'accepted_risk',
  'scheduled',
  'deploying',
  'completed',
  'failed',
  'halted',
  'rolled_back',
  'cancelled',
  'expired',
];

const iso = (d: Date | null | undefined) => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');
const words = (s: string) => s.replaceAll('_', ' ');

function osUser(io: CliIo): string {
  let name: string | undefined;
  try {
    name = os.userInfo().username;
  } catch {
    name = undefined;
  }
  return name || io.env.USER || io.env.LOGNAME || 'unknown';
}

/** Where the decisions of a change stand now (for list and show). */
function standing(app: AppContext, change: ChangeDetail, now: Date) {
  const state = ledgerState(
    ledgerOf(change),
    change.round,
    ledgerPolicy(app.config.policy, change, () => []),
    now,
  );
  return {
    rule: ruleFor(app.config.policy, change).rule.name,
    quorum: state.quorum,
    approvals: state.approvals.map((a) => a.actorName ?? a.actorId),
    requestedBy: state.request ? (state.request.actorName ?? state.request.actorId) : null,
    emergency: state.emergency,
    expiresAt: state.expiresAt ?? null,
  };
}

function changeJson(app: AppContext, c: ChangeDetail, now: Date) {
  const s = standing(app, c, now);
  return {
    id: c.id,
    number: c.number,
    status: c.status,
    round: c.round,
    team: c.team,
    ecosystem: c.ecosystem,
    package: c.packageName,
    fixedVersion: c.fixedVersion,
    riskScore: c.riskScore,
    severity: c.severity,
    kev: c.kev,
    hosts: [...new Set(c.findings.map((f) => f.hostName))].sort(),
    rule: s.rule,
    quorum: s.quorum,
    approvals: s.approvals,
    approvalsExpireAt: s.expiresAt,
    requestedBy: s.requestedBy,
    emergency: s.emergency,
    createdAt: c.createdAt,
    approvedAt: c.approvedAt,
    closedAt: c.closedAt,
    decisions: c.decisions.map((d) => ({
      kind: d.kind,
      by: d.actorId,
      display: d.actorDisplay,
      surface: d.surface,
      round: d.round,
      at: d.createdAt,
      reason: d.reason,
      emergency: d.emergency,
      deferUntil: d.deferUntil,
      expiresAt: d.expiresAt,
    })),
  };
}

/** The open changes in one line each (also the hint for a change that does not exist). */
export async function openChangeLines(app: AppContext, limit = 20): Promise<string[]> {
  const open = await app.repos.changes.list({ statuses: OPEN_CHANGE_STATUSES, limit });
  return open.map(
    (c) =>
      `#${c.number} ${words(c.status)} ${c.team ?? 'unowned'} ${c.packageName} → ${c.fixedVersion}` +
      `${c.kev ? ' KEV' : ''}${c.riskScore === null ? '' : ` risk ${Math.round(c.riskScore)}`}`,
  );
}

/**
 * The chat platforms whose campaign messages a CLI decision updates (each when configured), and
 * the group lookups of the roles and approval rules (Slack user groups; Entra groups through
 * Microsoft Graph for a single-tenant Teams bot).
 */
async function chatFor(
  app: AppContext,
  closer: (() => Promise<void>)[],
): Promise<{ platforms: ChatPlatform[]; groupMembers: (groupId: string) => Promise<readonly string[]> }> {
  const platforms: ChatPlatform[] = [];
  let slackGroups: ((g: string) => Promise<readonly string[]>) | undefined;
  let entraGroups: ((g: string) => Promise<readonly string[]>) | undefined;
  const slack = app.config.env.slack;
  if (slack) {
    const client = await createSlackWebClient({
      token: slack.botToken,
      ...(slack.apiUrl === undefined ? {} : { apiUrl: slack.apiUrl }),
    });
    platforms.push(new SlackPoster({ client, logger: app.logger, intervalMs: 0 }));
    slackGroups = slackGroupMembers(client);
  }
  const ms = app.config.env.msteams;
  if (ms) {
    const auth = {
      appId: ms.appId,
      ...(ms.appPassword === undefined ? {} : { appPassword: ms.appPassword }),
      ...(ms.tenantId === undefined ? {} : { tenantId: ms.tenantId }),
    };
    // The edge only posts here: it is built for its poster and never listens.
    const edge = createTeamsEdge({
      ...auth,
      allowUnauthenticated: ms.devNoAuth,
      logger: app.logger,
      handlers: {
        onAction: () => Promise.reject(new Error('the CLI takes no Teams actions')),
        onViewSubmission: () => Promise.reject(new Error('the CLI takes no Teams actions')),
        onCommand: () => Promise.reject(new Error('the CLI takes no Teams commands')),
      },
      cardFor: () => Promise.reject(new Error('the CLI answers no Teams actions')),
      conversations: createTeamsConversationStore(app.repos, app.config.policy),
    });
    closer.push(() => edge.stop());
    platforms.push(edge.poster);
    if (ms.tenantId !== undefined) {
      const tenant = ms.tenantId;
      const audience = new URL(ms.graphUrl).origin;
      entraGroups = entraGroupMembers({
        token: () => bearerToken(auth, audience, tenant),
        graphUrl: ms.graphUrl,
      });
    }
  }
  return {
    platforms,
    groupMembers: (g) => {
      const lookup = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(g) ? entraGroups : slackGroups;
      return lookup ? lookup(g) : Promise.resolve([]);
    },
  };
}

/** Records a decision as `--as` (or the CLI user), after the roles check; prints the outcome. */
async function decide(
  io: CliIo,
  action: ChatAction,
  input: Omit<DecideInput, 'actor'> & { as?: string },
  format: Format,
): Promise<void> {
  const result = await withApp(io, { format }, async (app): Promise<DecideResult | { refused: string }> => {
    const who = osUser(io);
    const actorId = input.as ?? `cli:${who}`;
    const closer: (() => Promise<void>)[] = [];
    try {
      const chat = await chatFor(app, closer);
      const platform = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(actorId) ? 'teams' : input.as ? 'slack' : 'cli';
      const roles = createRoleCheck({
        policy: app.config.policy,
        groupMembers: chat.groupMembers,
        logger: app.logger,
      });
      const refused = await roles({ id: actorId, platform }, action);
      if (refused) return { refused };
      const approvals = createApprovals({
        repos: app.repos,
        policy: app.config.policy,
        now: () => new Date(),
        logger: app.logger,
        platforms: () => chat.platforms,
        groupMembers: chat.groupMembers,
      });
      const { as: _as, ...rest } = input;
      return await approvals.decide({
        ...rest,
        actor: {
          id: actorId,
          display: input.as ? `${input.as} (cli:${who})` : `cli:${who}`,
          surface: 'cli',
        },
      });
    } finally {
      for (const close of closer) await close();
    }
  });
  const refused =
    'refused' in result ? result.refused : result.outcome === 'refused' ? result.message : undefined;
  if (format === 'json') {
    writeLine(
      io.stdout,
      JSON.stringify(
        'refused' in result
          ? { outcome: 'refused', message: result.refused }
          : {
              outcome: result.outcome,
              message: result.message,
              change: {
                number: result.change.number,
                status: result.change.status,
                round: result.change.round,
              },
              ...(result.outcome === 'recorded' ? { approved: result.approved } : {}),
            },
        null,
        2,
      ),
    );
  } else if (refused) {
    writeLine(io.stderr, `patchbot: refused: ${refused}`);
  } else if (!('refused' in result)) {
    writeLine(io.stdout, result.message);
    if (result.outcome === 'recorded' && result.approved)
      writeLine(
        io.stdout,
        `change #${result.change.number} is approved: start it with \`patchbot deploy start ${result.change.number}\``,
      );
  }
  if (refused) throw new CliExit(1);
}

const formatOption = () =>
  new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');
const asOption = () =>
  new Option(
    '--as <user>',
    'whose decision it is: a Slack user id (U…) or Entra object id the policy names (default: cli:<your login>, which no approval rule names)',
  );

export function registerChanges(program: Command, io: CliIo): void {
  const changes = program
    .command('changes')
    .description(
      'Change requests (fix campaigns): list, show, and request, approve or reject them without chat.',
    );

  changes
    .command('list')
    .description('List changes: the open ones (pending, deferred, approved) unless --status says otherwise.')
    .addOption(
      new Option('--status <status...>', 'only these statuses ("all" for every one)').choices([
        'all',
        ...STATUSES,
      ]),
    )
    .option('--team <team>', 'only this team')
    .option('--limit <n>', 'at most this many, newest first', '100')
    .addOption(formatOption())
    .action(async (o: { status?: string[]; team?: string; limit: string; format: Format }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000)
        throw new ValidationError(
          `--limit: expected a number from 1 to 10000, got ${JSON.stringify(o.limit)}`,
        );
      await withApp(io, { format: o.format }, async (app) => {
        const statuses = o.status?.includes('all')
          ? undefined
          : ((o.status as ChangeStatus[] | undefined) ?? OPEN_CHANGE_STATUSES);
        const rows = await app.repos.changes.list({
          ...(statuses ? { statuses } : {}),
          ...(o.team === undefined ? {} : { team: o.team }),
          limit,
        });
        const now = new Date();
        const details = await Promise.all(rows.map((r) => app.repos.changes.get(r.id)));
        if (o.format === 'json') {
          writeLine(
            io.stdout,
            JSON.stringify({ changes: details.map((c) => changeJson(app, c, now)) }, null, 2),
          );
          return;
        }
        if (details.length === 0) {
          writeLine(
            io.stdout,
            `no ${statuses ? statuses.map(words).join('/') : ''} changes`.replace('  ', ' '),
          );
          return;
        }
        for (const c of details) {
          const s = standing(app, c, now);
          const hosts = new Set(c.findings.map((f) => f.hostName)).size;
          writeLine(
            io.stdout,
            `#${String(c.number).padEnd(5)} ${words(c.status).padEnd(13)} ${(c.team ?? 'unowned').padEnd(12)} ` +
              `${c.packageName} → ${c.fixedVersion}  risk ${Math.round(c.riskScore ?? 0)}${c.kev ? ' KEV' : ''}, ` +
              `${hosts} host${hosts === 1 ? '' : 's'}, ${s.approvals.length}/${s.quorum} approvals` +
              `${s.requestedBy ? `, requested by ${s.requestedBy}${s.emergency ? ' (emergency)' : ''}` : ''}`,
          );
        }
      });
    });

  changes
    .command('show')
    .description('Show a change: its state, approval rule and quorum, requester, every decision, its hosts.')
    .argument('<change>', 'change number (e.g. 42) or id')
    .addOption(formatOption())
    .action(async (ref: string, o: { format: Format }) => {
      await withApp(io, { format: o.format }, async (app) => {
        const c = await app.repos.changes.get(ref);
        const now = new Date();
        const records = itsmRecordViews(await app.repos.itsmLinks.forChange(c.id), c);
        if (o.format === 'json') {
          writeLine(io.stdout, JSON.stringify({ ...changeJson(app, c, now), itsm: records }, null, 2));
          return;
        }
        const s = standing(app, c, now);
        const out = (l: string) => writeLine(io.stdout, l);
        out(
          `change #${c.number}: ${c.packageName} → ${c.fixedVersion} (${c.ecosystem}) for team ${c.team ?? 'unowned'}`,
        );
        out(`status     ${words(c.status)} (round ${c.round})`);
        out(
          `approval   rule ${s.rule}: ${s.approvals.length} of ${s.quorum}${s.approvals.length > 0 ? ` (${s.approvals.join(', ')})` : ''}` +
            `${s.expiresAt ? `; these count until ${iso(s.expiresAt)}` : ''}`,
        );
        out(
          `requested  ${s.requestedBy ? `by ${s.requestedBy}${s.emergency ? ' for the emergency lane' : ''}` : 'by nobody yet'}`,
        );
        out(`risk       ${Math.round(c.riskScore ?? 0)} (${c.severity ?? 'none'})${c.kev ? ', KEV' : ''}`);
        out('decisions');
        if (c.decisions.length === 0) out('  none yet');
        for (const d of c.decisions)
          out(
            `  ${iso(d.createdAt)}  ${words(d.kind).padEnd(11)} ${d.actorDisplay ?? d.actorId} (${d.surface}, round ${d.round})` +
              `${d.emergency ? ' emergency' : ''}${d.deferUntil ? ` until ${iso(d.deferUntil)}` : ''}${d.reason ? `: ${d.reason}` : ''}`,
          );
        for (const r of records) out(`itsm       ${itsmRecordText(r)} ${r.url}`);
        const hosts = c.findings.filter((f) => f.status !== 'fixed');
        out(`hosts (${new Set(hosts.map((f) => f.hostName)).size})`);
        for (const f of hosts)
          out(
            `  ${f.hostName} (${f.environment}): ${f.packageName} ${f.installedVersion} → ${f.fixedVersion ?? 'no fix'} [${f.advisoryId}]`,
          );
      });
    });

  changes
    .command('request')
    .description('Ask for the rollout of a change (its requester then cannot approve it).')
    .argument('<change>', 'change number (e.g. 42) or id')
    .addOption(asOption())
    .option('--emergency', "ask for the emergency lane (the policy's invokers only, its own quorum)")
    .option('--reason <text>', 'why')
    .addOption(formatOption())
    .action(async (ref: string, o: { as?: string; emergency?: boolean; reason?: string; format: Format }) => {
      await decide(
        io,
        'request',
        {
          changeRef: ref,
          kind: 'request',
          ...(o.as ? { as: o.as } : {}),
          ...(o.emergency ? { emergency: true } : {}),
          ...(o.reason ? { reason: o.reason } : {}),
        },
        o.format,
      );
    });

  changes
    .command('approve')
    .description('Approve a change as an approver the policy names (--as).')
    .argument('<change>', 'change number (e.g. 42) or id')
    .addOption(asOption())
    .addOption(formatOption())
    .action(async (ref: string, o: { as?: string; format: Format }) => {
      await decide(
        io,
        'approve',
        { changeRef: ref, kind: 'approve', ...(o.as ? { as: o.as } : {}) },
        o.format,
      );
    });

  changes
    .command('reject')
    .description('Reject a change, with a reason, as an approver the policy names (--as).')
    .argument('<change>', 'change number (e.g. 42) or id')
    .addOption(asOption())
    .requiredOption('--reason <text>', 'why it is rejected')
    .addOption(formatOption())
    .action(async (ref: string, o: { as?: string; reason: string; format: Format }) => {
      await decide(
        io,
        'reject',
        { changeRef: ref, kind: 'reject', reason: o.reason, ...(o.as ? { as: o.as } : {}) },
        o.format,
      );
    });
}
