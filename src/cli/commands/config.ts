/**
 * `patchbot config check [FILE]`: validates the environment and the policy file and prints a
 * summary, or every problem with file:line:col. Exit status 1 when anything is invalid.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TZDate } from '@date-fns/tz';
import { Option, type Command } from 'commander';
import { checkEnv, formatEnvIssue, type Env, type EnvIssue } from '../../config/env.js';
import { itsmEnvNames } from '../../config/index.js';
import {
  DEFAULT_POLICY,
  DEFAULT_POLICY_PATH,
  checkPolicyText,
  formatPolicyIssue,
  roleTable,
  type Policy,
  type PolicyIssue,
} from '../../config/policy.js';
import { nextWindowOccurrence } from '../../config/schedule.js';
import type { HostSelector } from '../../config/policy-schema.js';
import { WEEKDAY_NAMES } from '../../config/values.js';
import { redactUrl } from '../../logging/redact.js';
import { CliExit, writeLine, type CliIo } from '../io.js';

interface CheckReport {
  ok: boolean;
  policy: {
    file: string;
    source: 'file' | 'defaults';
    errors: PolicyIssue[];
    warnings: PolicyIssue[];
    summary?: PolicySummary;
  };
  env: { errors: EnvIssue[]; summary?: EnvSummary };
}

interface PolicySummary {
  environments: string[];
  teams: { name: string; slackChannels: number; msteamsDestinations: number; digest: string }[];
  hosts: { total: number; byEnvironment: Record<string, number> };
  groups: string[];
  routing: { rules: number; defaultTeam: string | null };
  rings: { name: string; selects: string; concurrency: number; soak: string; failureBudget: string }[];
  maintenanceWindows: {
    name: string;
    schedule: string[];
    timeZone: string;
    /** Next opening as an ISO instant, and as local time in the window's zone. */
    next: string | null;
    nextLocal: string | null;
  }[];
  approval: { defaultQuorum: number; rules: { name: string; quorum: number }[]; emergencyLane: boolean };
  feeds: string[];
  /** Who holds each role: "everyone", "nobody", or how many people and groups. */
  roles: Record<string, string>;
}

interface EnvSummary {
  database: string;
  redis: string;
  port: number;
  slack: string;
  msteams: string;
  logLevel: string;
}

export async function runConfigCheck(
  io: CliIo,
  file: string | undefined,
  now = new Date(),
): Promise<CheckReport> {
  const envCheck = checkEnv(io.env);
  const fromEnv = io.env.PATCHBOT_CONFIG === '' ? undefined : io.env.PATCHBOT_CONFIG;
  const given = file ?? fromEnv;
  const shown = given ?? DEFAULT_POLICY_PATH;
  const absolute = resolve(io.cwd, shown);

  const report: CheckReport = {
    ok: false,
    policy: { file: shown, source: 'file', errors: [], warnings: [] },
    env: { errors: envCheck.errors },
  };
  let policy: Policy | undefined;
  let text: string | undefined;
  try {
    if (!(await stat(absolute)).isFile()) {
      report.policy.errors.push(issue(shown, 'not a file'));
    } else {
      text = await readFile(absolute, 'utf8');
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && given === undefined) {
      report.policy.source = 'defaults';
      policy = DEFAULT_POLICY;
    } else {
      report.policy.errors.push(
        issue(shown, code === 'ENOENT' ? 'file does not exist' : `cannot read: ${code ?? String(err)}`),
      );
    }
  }
  if (text !== undefined) {
    const check = checkPolicyText(text, shown.replace(/^\.\//, ''));
    report.policy.errors.push(...check.errors);
    report.policy.warnings.push(...check.warnings);
    policy = check.policy;
  }
  if (policy) report.policy.summary = summarizePolicy(policy, now);
  // the credentials the policy's ITSM integrations read (docs/integrations.md)
  for (const name of policy ? itsmEnvNames(policy) : []) {
    if ((io.env[name] ?? '') === '') {
      report.env.errors.push({
        variable: name,
        message: "expected a value: the policy's itsm section reads its credentials from it",
      });
    }
  }
  if (envCheck.env) report.env.summary = summarizeEnv(envCheck.env, io.cwd);
  report.ok = report.policy.errors.length === 0 && report.env.errors.length === 0;
  return report;
}

function issue(file: string, message: string): PolicyIssue {
  return { severity: 'error', file, path: '', message };
}

function summarizePolicy(p: Policy, now: Date): PolicySummary {
  const byEnvironment: Record<string, number> = {};
  for (const h of p.hosts) byEnvironment[h.environment] = (byEnvironment[h.environment] ?? 0) + 1;
  return {
    environments: p.environments,
    teams: p.teams.map((t) => ({
      name: t.name,
      slackChannels: t.slack.channels.length,
      msteamsDestinations: t.msteams.conversations.length + t.msteams.channels.length,
      digest: t.digest.enabled
        ? `${WEEKDAY_NAMES[t.digest.weekday]} ${hhmm(t.digest.time)} ${t.digest.timeZone}`
        : 'off',
    })),
    hosts: { total: p.hosts.length, byEnvironment },
    groups: p.groups.map((g) => g.name),
    routing: { rules: p.routing.rules.length, defaultTeam: p.routing.defaultTeam ?? null },
    rings: p.rings.map((r) => ({
      name: r.name,
      selects: r.match
        ? describeSelector(r.match)
        : r.percent !== undefined
          ? `${r.percent}% of hosts`
          : 'the rest',
      concurrency: r.concurrency,
      soak: duration(r.soak),
      failureBudget:
        r.failureBudget.kind === 'percent' ? `${r.failureBudget.value}%` : String(r.failureBudget.value),
    })),
    maintenanceWindows: p.maintenanceWindows.map((w) => {
      const next = nextWindowOccurrence(w, now, { blackoutDates: p.deployments.blackoutDates });
      return {
        name: w.name,
        schedule: w.schedule.map((s) => s.spec),
        timeZone: w.timeZone,
        next: next ? next.start.toISOString() : null,
        nextLocal: next ? localTime(next.start, w.timeZone) : null,
      };
    }),
    approval: {
      defaultQuorum: p.approval.default.quorum,
      rules: p.approval.rules.map((r) => ({ name: r.name, quorum: r.quorum })),
      emergencyLane: p.approval.emergency.enabled,
    },
    feeds: p.feeds.sources.filter((s) => s.enabled).map((s) => s.name),
    roles: Object.fromEntries(
      Object.entries(roleTable(p.roles)).map(([role, g]) => {
        const people = g.users.length;
        const groups = g.groups.length;
        const who = g.everyone
          ? 'everyone'
          : people + groups === 0
            ? 'nobody'
            : [
                people > 0 ? `${people} ${people === 1 ? 'person' : 'people'}` : '',
                groups > 0 ? `${groups} ${groups === 1 ? 'group' : 'groups'}` : '',
              ]
                .filter(Boolean)
                .join(', ');
        return [role, who];
      }),
    ),
  };
}

function summarizeEnv(e: Env, cwd: string): EnvSummary {
  return {
    database: e.databaseUrl
      ? `PostgreSQL ${redactUrl(e.databaseUrl)}`
      : `embedded database at ${resolve(cwd, e.dataDir, 'db')}`,
    redis: redactUrl(e.redisUrl),
    port: e.port,
    slack: !e.slack ? 'off' : e.slack.appToken ? 'Socket Mode' : 'HTTP events',
    msteams: !e.msteams
      ? 'off'
      : `${e.msteams.tenantId ? 'single-tenant' : 'multi-tenant'}${e.msteams.devNoAuth ? ', AUTHENTICATION OFF (TEAMS_DEV_NO_AUTH)' : ''}`,
    logLevel: e.logLevel,
  };
}

function describeSelector(s: HostSelector): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s.labels ?? {})) parts.push(`${k}=${v.join('|')}`);
  if (s.groups) parts.push(`groups ${s.groups.join(', ')}`);
  if (s.hosts) parts.push(`hosts ${s.hosts.join(', ')}`);
  if (s.environments) parts.push(`environments ${s.environments.join(', ')}`);
  if (s.teams) parts.push(`teams ${s.teams.join(', ')}`);
  return parts.join(' and ');
}

function localTime(d: Date, timeZone: string): string {
  const t = new TZDate(d.getTime(), timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${WEEKDAY_NAMES[t.getDay()]} ${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())} ${timeZone}`;
}

function hhmm(t: { hour: number; minute: number }): string {
  return `${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`;
}

function duration(ms: number): string {
  if (ms === 0) return '0';
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  let rest = ms;
  let out = '';
  for (const [size, unit] of units) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}

function printText(io: CliIo, r: CheckReport): void {
  const out = (line = '') => writeLine(io.stdout, line);
  for (const e of r.policy.errors) out(`error   ${formatPolicyIssue(e)}`);
  for (const e of r.env.errors) out(`error   environment ${formatEnvIssue(e)}`);
  for (const w of r.policy.warnings) out(`warning ${formatPolicyIssue(w)}`);
  if (r.policy.errors.length + r.env.errors.length + r.policy.warnings.length > 0) out();

  const s = r.policy.summary;
  if (s) {
    out(
      r.policy.source === 'defaults'
        ? `Policy: no file at ${r.policy.file}; using the built-in defaults`
        : `Policy: ${r.policy.file}`,
    );
    out(`  environments  ${s.environments.join(', ')}`);
    out(
      `  teams         ${s.teams.length}${s.teams.length ? ': ' : ''}${s.teams
        .map(
          (t) => `${t.name} (${t.slackChannels} Slack, ${t.msteamsDestinations} Teams, digest ${t.digest})`,
        )
        .join('; ')}`,
    );
    const envs = Object.entries(s.hosts.byEnvironment)
      .map(([env, n]) => `${n} ${env}`)
      .join(', ');
    out(`  hosts         ${s.hosts.total}${envs ? ` (${envs})` : ''}`);
    out(`  groups        ${s.groups.length ? s.groups.join(', ') : '-'}`);
    out(
      `  routing       ${s.routing.rules} ${s.routing.rules === 1 ? 'rule' : 'rules'}, default team ${s.routing.defaultTeam ?? '-'}`,
    );
    out(
      `  rings         ${s.rings
        .map(
          (g) =>
            `${g.name} [${g.selects}; ${g.concurrency} at a time; soak ${g.soak}; budget ${g.failureBudget}]`,
        )
        .join(' -> ')}`,
    );
    if (s.maintenanceWindows.length === 0) out('  windows       - (deploy right after approval)');
    for (const w of s.maintenanceWindows) {
      out(
        `  window        ${w.name}: ${w.schedule.join(', ')} ${w.timeZone}; next opens ${w.nextLocal ?? 'never (blacked out)'}`,
      );
    }
    out(
      `  approval      quorum ${s.approval.defaultQuorum} by default${s.approval.rules
        .map((x) => `; ${x.name}: quorum ${x.quorum}`)
        .join('')}; emergency lane ${s.approval.emergencyLane ? 'on' : 'off'}`,
    );
    out(`  feeds         ${s.feeds.join(', ') || '-'}`);
    out(
      `  roles         ${Object.entries(s.roles)
        .map(([role, who]) => `${role}: ${who}`)
        .join('; ')}`,
    );
  }
  const e = r.env.summary;
  if (e) {
    out('Environment:');
    out(`  database      ${e.database}`);
    out(`  redis         ${e.redis}`);
    out(`  port          ${e.port}`);
    out(`  slack         ${e.slack}`);
    out(`  teams         ${e.msteams}`);
    out(`  log level     ${e.logLevel}`);
  }
  out(r.ok ? 'OK' : `INVALID: ${r.policy.errors.length + r.env.errors.length} error(s)`);
}

export function registerConfig(program: Command, io: CliIo): void {
  const config = program.command('config').description("Check patchbot's configuration");
  config
    .command('check')
    .description(
      'Validate the environment variables and the policy file (FILE, else PATCHBOT_CONFIG, else ./patchbot.yaml); ' +
        'print a summary, or every problem with file:line:col.',
    )
    .argument('[file]', 'policy file to check')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', '\nExit status: 0 when valid (warnings allowed), 1 when anything is invalid.')
    .action(async (file: string | undefined, opts: { format: 'text' | 'json' }) => {
      const report = await runConfigCheck(io, file);
      if (opts.format === 'json') writeLine(io.stdout, JSON.stringify(report, null, 2));
      else printText(io, report);
      if (!report.ok) throw new CliExit(1);
    });
}
