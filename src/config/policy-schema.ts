import { z } from 'zod';
import { RiskPolicy } from '../core/risk/policy.js';
import {
  BudgetValue,
  DateRangeText,
  Duration,
  EntraObjectId,
  HostAddress,
  HostKeyFingerprint,
  LabelKey,
  LabelValue,
  Name,
  Port,
  RecurringWindowText,
  SlackChannelId,
  SlackUserGroupId,
  SlackUserId,
  TimeOfDayText,
  TimeZone,
  UnixUser,
  Weekday,
  closest,
  intIn,
  positiveInt,
} from './values.js';
import { Webhooks } from './policy-webhooks.js';

/**
 * The policy file (patchbot.yaml): everything an operator decides, validated once at start-up.
 * Every object is strict (an unknown key is an error, so a typo is never silently ignored) and
 * every key has a default, so an empty file (or none) is a working configuration.
 *
 * Durations ("30m", "2h") come out in milliseconds, weekdays as 0-6 (0 = Sunday), times of day as
 * { hour, minute }, recurring windows as { days, start, durationMinutes }. The reference with an
 * example of every key is docs/configuration.md; patchbot.example.yaml is a complete file.
 */

const HostName = z
  .string({ error: 'expected a host name (letters, digits, ".", "_", "-")' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, {
    error: 'expected a host name (letters, digits, ".", "_", "-")',
  });

const names = <T extends z.ZodType>(item: T) => z.array(item, { error: 'expected a list of names' });

/**
 * Which hosts something applies to. Every key given must match (AND); a list inside a key is any
 * of (OR). `labels: { ring: [canary, pilot] }` matches hosts whose `ring` label is canary or pilot.
 */
const selectorShape = {
  labels: z
    .record(
      LabelKey,
      z
        .union([LabelValue, z.array(LabelValue).min(1)], {
          error: 'expected a label value or a list of values',
        })
        .transform((v) => (Array.isArray(v) ? v : [v])),
    )
    .optional(),
  hosts: names(HostName).optional(),
  environments: names(Name).optional(),
  teams: names(Name).optional(),
  groups: names(Name).optional(),
};
const SELECTOR_MSG = 'expected at least one of labels, hosts, environments, teams, groups';
const nonEmptySelector = (s: Record<string, unknown>) => Object.values(s).some((v) => v !== undefined);

export const HostSelector = z.strictObject(selectorShape).refine(nonEmptySelector, { error: SELECTOR_MSG });
export type HostSelector = z.infer<typeof HostSelector>;

/** A group is defined by a selector that may not itself name groups (no cycles). */
const { groups: _groups, ...groupSelectorShape } = selectorShape;
export const GroupSelector = z
  .strictObject(groupSelectorShape)
  .refine(nonEmptySelector, { error: 'expected at least one of labels, hosts, environments, teams' });

// ---------------------------------------------------------------------------------------------
// teams

/** People who may approve: any of these counts. */
export const ApproverSet = z.strictObject({
  slackUsers: z.array(SlackUserId).default([]),
  slackUserGroups: z.array(SlackUserGroupId).default([]),
  /** Entra (Azure AD) object ids of Microsoft Teams users. */
  entraUsers: z.array(EntraObjectId).default([]),
  /** Entra group object ids: their members (read through Microsoft Graph) count. */
  entraGroups: z.array(EntraObjectId).default([]),
});
export type ApproverSet = z.infer<typeof ApproverSet>;

export const DigestSchedule = z.strictObject({
  enabled: z.boolean().default(true),
  weekday: Weekday.prefault('mon'),
  time: TimeOfDayText.prefault('09:00'),
  timeZone: TimeZone.default('UTC'),
});
export type DigestSchedule = z.infer<typeof DigestSchedule>;

/** Hold non-urgent posts during these hours (a range that passes midnight ends the next day). */
export const QuietHours = z.strictObject({
  from: TimeOfDayText,
  to: TimeOfDayText,
  timeZone: TimeZone,
  /** KEV findings and findings in the critical risk band are posted anyway. */
  exceptCritical: z.boolean().default(true),
});
export type QuietHours = z.infer<typeof QuietHours>;

/** A Microsoft Teams conversation id as Teams shows it ("19:…@thread.tacv2"); a `;messageid=` suffix is dropped. */
const TeamsConversationId = z
  .string({ error: 'expected a Microsoft Teams conversation id such as "19:…@thread.tacv2"' })
  .regex(/^[0-9a-z]+:[^\s;]+(;messageid=\d+)?$/i, {
    error: 'expected a Microsoft Teams conversation id such as "19:…@thread.tacv2"',
  })
  .transform((s) => s.split(';')[0] ?? s);

const BY_NAME =
  'Teams channels are bound by id, not by name (a name can be changed or copied): use { teamId, channelId } ' +
  '(ids from "Get link to team" / "Get link to channel", or from patchbot\'s log when it is installed), ' +
  'or run `patch link <team>` in the channel';

/** A Teams channel bound to a patchbot team by the ids of its Teams team and of the channel. */
export const TeamsChannelBinding = z
  .record(z.string(), z.unknown(), { error: 'expected { teamId, channelId? }' })
  .superRefine((v, ctx) => {
    if ('team' in v || 'channel' in v) ctx.addIssue({ code: 'custom', message: BY_NAME, input: v });
  })
  .pipe(
    z.strictObject({
      /** The Teams team's id (its General channel's conversation id, "19:…@thread.tacv2"). */
      teamId: TeamsConversationId,
      /** The channel's conversation id; left out = the team's General channel. */
      channelId: TeamsConversationId.optional(),
    }),
  );
export type TeamsChannelBinding = z.infer<typeof TeamsChannelBinding>;

export const Team = z.strictObject({
  name: Name,
  description: z.string().optional(),
  slack: z
    .strictObject({
      /** Channel ids (C…/G…) the team's posts go to. */
      channels: z.array(SlackChannelId).default([]),
    })
    .prefault({}),
  msteams: z
    .strictObject({
      /** Conversation ids of channels or chats ("19:…@thread.tacv2", "19:…@thread.v2"). */
      conversations: z.array(TeamsConversationId).default([]),
      /**
       * Channels by the ids of their Teams team and channel (never by name: names change and can be
       * copied). No channelId = the team's General channel.
       */
      channels: z.array(TeamsChannelBinding).default([]),
    })
    .prefault({}),
  /** Approvers per environment; the key "*" applies to every environment without its own entry. */
  approvers: z.record(z.string(), ApproverSet).default({}),
  digest: DigestSchedule.prefault({}),
  quietHours: QuietHours.optional(),
});
export type Team = z.infer<typeof Team>;

// ---------------------------------------------------------------------------------------------
// hosts, groups, routing

export const HostEntry = z.strictObject({
  name: HostName,
  /** DNS name or IP address; defaults to the name. */
  address: HostAddress.optional(),
  port: Port.optional(),
  user: UnixUser.optional(),
  identityFile: z.string().min(1).optional(),
  /** Pinned host key ("SHA256:…"); connections to a host without one are refused. */
  hostKey: HostKeyFingerprint.optional(),
  /** More pinned keys: any pinned key is accepted (pin the new key here before rotating it). */
  hostKeys: z.array(HostKeyFingerprint).max(32).default([]),
  labels: z.record(LabelKey, LabelValue).default({}),
  environment: Name.default('production'),
  /** 1 = most critical ... 4 = least. */
  criticality: intIn(1, 4).default(3),
  internetFacing: z.boolean().default(false),
  compensatingControls: z.array(z.string().min(1)).default([]),
  /** Put the host in this ring, whatever the ring selectors say. */
  ring: Name.optional(),
  /** Owning team, whatever the routing rules say. */
  team: Name.optional(),
  /** Extra group membership on top of the groups' selectors. */
  groups: names(Name).default([]),
  /** Run package commands through `sudo -n` (default: deployments.sudo). */
  sudo: z.boolean().optional(),
});

export const HostGroup = z.strictObject({
  name: Name,
  description: z.string().optional(),
  match: GroupSelector,
});
export type HostGroup = z.infer<typeof HostGroup>;

export const RoutingRule = z.strictObject({
  match: HostSelector,
  team: Name,
});
export const Routing = z.strictObject({
  /** Team for hosts that no rule matches and that name no team. */
  defaultTeam: Name.optional(),
  /** Tried in order; the first match wins. A host's own `team` wins over every rule. */
  rules: z.array(RoutingRule).default([]),
});
export type Routing = z.infer<typeof Routing>;

// ---------------------------------------------------------------------------------------------
// rings and windows

export const Ring = z
  .strictObject({
    name: Name,
    /** Hosts this ring takes (first matching ring wins). */
    match: HostSelector.optional(),
    /** ...or this share of the affected hosts not yet in an earlier ring. */
    percent: z
      .number({ error: 'expected a percentage above 0 and at most 100' })
      .gt(0, { error: 'expected a percentage above 0 and at most 100' })
      .max(100, { error: 'expected a percentage above 0 and at most 100' })
      .optional(),
    /** Hosts patched at the same time within the ring. */
    concurrency: positiveInt().default(1),
    /** Wait after the ring succeeds before the next ring starts. */
    soak: Duration.prefault('0m'),
    /** Failed hosts the ring tolerates (a count, or "10%" of the ring); one more halts the deployment. */
    failureBudget: BudgetValue.prefault(0),
  })
  .refine((r) => r.match === undefined || r.percent === undefined, {
    error: 'expected either match or percent, not both',
  });
export type Ring = z.infer<typeof Ring>;

export const DEFAULT_RINGS_INPUT = [
  { name: 'canary', percent: 10, concurrency: 1, soak: '1h', failureBudget: 0 },
  { name: 'broad', concurrency: 5, soak: '0m', failureBudget: '10%' },
];

export const MaintenanceWindow = z.strictObject({
  name: Name,
  /** Hosts the window applies to; every host when left out. */
  match: HostSelector.optional(),
  /** "Tue 02:00-04:00", "Mon-Fri 22:00-02:00", a list of such. */
  schedule: z
    .union([RecurringWindowText, z.array(RecurringWindowText).min(1)], {
      error: 'expected a recurring window such as "Tue 02:00-04:00" or a list of them',
    })
    .transform((v) => (Array.isArray(v) ? v : [v])),
  timeZone: TimeZone,
  /** Dates ("2025-12-24") or ranges ("2025-12-20..2026-01-02") the window does not open, in its time zone. */
  blackoutDates: z.array(DateRangeText).default([]),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

// ---------------------------------------------------------------------------------------------
// approval

/** "owner" (the owning team's approvers for the host's environment) or the name of another team. */
const ApproverRef = Name;

export const ApprovalMatch = z
  .strictObject({
    environments: names(Name).optional(),
    teams: names(Name).optional(),
    groups: names(Name).optional(),
    kev: z.boolean().optional(),
    riskAtLeast: intIn(0, 100, 'a risk score').optional(),
  })
  .refine(nonEmptySelector, {
    error: 'expected at least one of environments, teams, groups, kev, riskAtLeast',
  });
export type ApprovalMatch = z.infer<typeof ApprovalMatch>;

const approvalRequirementShape = {
  /** Distinct people who must approve. */
  quorum: positiveInt().default(1),
  /** Whose approvals count: "owner" and/or team names. */
  approvers: z
    .array(ApproverRef)
    .min(1, { error: 'expected at least one approver source' })
    .default(['owner']),
  /** The person who requested a change cannot approve it. */
  noSelfApproval: z.boolean().default(true),
  /** An approval not followed by a deployment within this time no longer counts. */
  expiry: Duration.prefault('72h'),
};
export const ApprovalRequirement = z.strictObject(approvalRequirementShape);
export type ApprovalRequirement = z.infer<typeof ApprovalRequirement>;

export const ApprovalRule = z.strictObject({
  name: Name,
  match: ApprovalMatch,
  ...approvalRequirementShape,
});
export type ApprovalRule = z.infer<typeof ApprovalRule>;

export const EmergencyLane = z.strictObject({
  enabled: z.boolean().default(false),
  /** Any of these makes a change eligible (e.g. [{ kev: true }, { riskAtLeast: 90 }]). */
  when: z.array(ApprovalMatch).default([{ kev: true }]),
  /** Who may invoke the lane: "owner" and/or team names. */
  invokers: z.array(ApproverRef).min(1).default(['owner']),
  quorum: positiveInt().default(1),
  skipMaintenanceWindow: z.boolean().default(true),
  skipSoak: z.boolean().default(false),
});
export type EmergencyLane = z.infer<typeof EmergencyLane>;

export const Approval = z.strictObject({
  /** Applies when no rule matches. */
  default: ApprovalRequirement.prefault({}),
  /** The most specific matching rule wins (the one naming the most conditions); ties go to the stricter rule, then to the first listed. */
  rules: z.array(ApprovalRule).default([]),
  emergency: EmergencyLane.prefault({}),
  /**
   * The change advisory board in ServiceNow (docs/integrations.md): "required" holds an approved
   * change's deployment until its change_request's approval is "approved" (a rejection there
   * rejects the change); "only" makes that approval the change's approval instead of chat
   * approvals (which are refused); "off" deploys on chat approvals alone.
   */
  itsm: z.enum(['off', 'required', 'only']).default('off'),
});
export type Approval = z.infer<typeof Approval>;

// ---------------------------------------------------------------------------------------------
// deployments, ssh

const HTTP_URL_MSG = 'expected an http(s) URL; {name} and {address} are replaced by the host';
const ProbeUrl = z.string({ error: HTTP_URL_MSG }).refine(
  (s) => {
    try {
      const u = new URL(s.replaceAll('{name}', 'host.example').replaceAll('{address}', 'host.example'));
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: HTTP_URL_MSG },
);
const HttpStatus = intIn(100, 599, 'an HTTP status');

export const HealthCheck = z
  .strictObject({
    name: Name,
    /** Hosts the check runs for; every host when left out. */
    match: HostSelector.optional(),
    /** Argument list run on the host (never through a shell), success = exit code 0. */
    command: z
      .array(z.string(), { error: 'expected an argument list such as ["systemctl", "is-active", "nginx"]' })
      .min(1, { error: 'expected an argument list such as ["systemctl", "is-active", "nginx"]' })
      .optional(),
    http: z
      .strictObject({
        url: ProbeUrl,
        expectStatus: z
          .union([HttpStatus, z.array(HttpStatus).min(1)], {
            error: 'expected an HTTP status or a list of them',
          })
          .transform((v) => (Array.isArray(v) ? v : [v]))
          .prefault(200),
      })
      .optional(),
    timeout: Duration.prefault('30s'),
    /** Tries after the first failure before the host counts as failed. */
    retries: intIn(0, 20).default(2),
    interval: Duration.prefault('10s'),
  })
  .refine((c) => c.command !== undefined || c.http !== undefined, { error: 'expected command and/or http' });
export type HealthCheck = z.infer<typeof HealthCheck>;

/**
 * Hosts on which patchbot may upgrade language packages system-wide (docs/deployments.md, "What
 * patchbot deploys"): pip of the interpreters in inventory.python, and global npm. Nothing is
 * allowed unless a rule says so; a host matched by several rules gets what any of them allows.
 */
export const LanguagePackageRule = z
  .strictObject({
    match: HostSelector,
    pip: z.boolean().default(false),
    npm: z.boolean().default(false),
  })
  .refine((r) => r.pip || r.npm, { error: 'expected pip: true and/or npm: true' });
export type LanguagePackageRule = z.infer<typeof LanguagePackageRule>;

export const Deployments = z.strictObject({
  sudo: z.boolean().default(true),
  /** Where pip and global npm packages may be upgraded (default: nowhere). */
  languagePackages: z.array(LanguagePackageRule).max(256).default([]),
  /** How long patchbot waits for an install; past it the install goes on, and the host is looked at again. */
  installTimeout: Duration.prefault('30m'),
  /** How often a host whose install or rollback result is unknown is looked at again. */
  recheckInterval: Duration.prefault('30s'),
  /** How often a worker re-creates deployment jobs Redis lost from PostgreSQL (the reconciler). */
  reconcileInterval: Duration.prefault('1m'),
  reboot: z
    .strictObject({
      policy: z.enum(['never', 'if-required', 'always']).default('if-required'),
      /** How long to wait for a rebooted host to answer again. */
      waitLimit: Duration.prefault('15m'),
    })
    .prefault({}),
  /** What a ring over its failure budget does: stop, or stop and restore the pre-deployment versions. */
  onFailure: z.enum(['halt', 'rollback']).default('rollback'),
  /** Hosts without a maintenance window: deploy right after approval (false) or never (true). */
  requireWindow: z.boolean().default(false),
  /** Fleet-wide change freezes, in each window's time zone. */
  blackoutDates: z.array(DateRangeText).default([]),
  healthChecks: z.array(HealthCheck).default([]),
  /** Retries of transient failures (connection refused, timeouts). */
  retry: z
    .strictObject({
      attempts: intIn(0, 20).default(3),
      backoff: Duration.prefault('30s'),
    })
    .prefault({}),
});
export type Deployments = z.infer<typeof Deployments>;

export const SshDefaults = z.strictObject({
  user: UnixUser.default('patchbot'),
  port: Port.default(22),
  /** Private key file; when left out the SSH agent (SSH_AUTH_SOCK) is used. */
  identityFile: z.string().min(1).optional(),
  connectTimeout: Duration.prefault('10s'),
  commandTimeout: Duration.prefault('5m'),
  maxOutputBytes: intIn(1024, 256 * 1024 * 1024, 'a byte count').default(1024 * 1024),
  /** Hosts contacted at the same time. */
  concurrency: positiveInt().default(10),
});
export type SshDefaults = z.infer<typeof SshDefaults>;

// ---------------------------------------------------------------------------------------------
// data freshness: how old feed data and inventories may be before reports call them stale
// (docs/feeds.md "How fresh the data is", docs/metrics.md "Coverage")

const MaxAge = Duration.refine((ms) => ms > 0, { error: 'expected a duration longer than 0' });

/** `feeds.maxAge`: past this, a feed is stale and every report says so. */
export const FeedMaxAge = z.strictObject({
  'debian-tracker': MaxAge.prefault('2d'),
  osv: MaxAge.prefault('2d'),
  kev: MaxAge.prefault('2d'),
  epss: MaxAge.prefault('7d'),
  nvd: MaxAge.prefault('7d'),
});
export type FeedMaxAge = z.infer<typeof FeedMaxAge>;

/** `coverage`: what makes a host count as assessed. */
export const CoveragePolicy = z.strictObject({
  /** A host whose newest inventory is older than this is not covered (inventory stale). */
  maxInventoryAge: MaxAge.prefault('7d'),
});
export type CoveragePolicy = z.infer<typeof CoveragePolicy>;

// ---------------------------------------------------------------------------------------------
// feeds, notifications, reporting

/** Built-in advisory sources; `url` takes a URL, a local path, or a short name (kev, osv:Debian...). */
export const BUILTIN_FEEDS: Readonly<Record<string, { url: string; enabled: boolean }>> = {
  'debian-tracker': { url: 'debian-tracker', enabled: true },
  'osv-debian': { url: 'osv:Debian', enabled: true },
  kev: { url: 'kev', enabled: true },
  epss: { url: 'epss', enabled: true },
  nvd: { url: 'nvd', enabled: false },
  'osv-ubuntu': { url: 'osv:Ubuntu', enabled: false },
  'osv-alpine': { url: 'osv:Alpine', enabled: false },
  'osv-rocky': { url: 'osv:Rocky Linux', enabled: false },
  'osv-almalinux': { url: 'osv:AlmaLinux', enabled: false },
  'osv-redhat': { url: 'osv:Red Hat', enabled: false },
  'osv-npm': { url: 'osv:npm', enabled: false },
  'osv-pypi': { url: 'osv:PyPI', enabled: false },
  'osv-go': { url: 'osv:Go', enabled: false },
  'osv-crates-io': { url: 'osv:crates.io', enabled: false },
  'osv-rubygems': { url: 'osv:RubyGems', enabled: false },
  /** LVFS firmware metadata (firmware.xml.zst): firmware advisories for fwupd devices. */
  lvfs: { url: 'lvfs', enabled: false },
};

export interface FeedSource {
  name: string;
  url: string;
  enabled: boolean;
}

export const Feeds = z
  .strictObject({
    syncInterval: Duration.prefault('6h'),
    maxAge: FeedMaxAge.prefault({}),
    /** Merged over the built-in sources: `nvd: { enabled: true }` turns one on, new names add sources. */
    sources: z
      .record(
        Name,
        z.strictObject({
          url: z.string().min(1, { error: 'expected a URL, a path or a short name' }).optional(),
          enabled: z.boolean().optional(),
        }),
      )
      .default({}),
  })
  .transform((f, ctx) => {
    const merged = new Map<string, FeedSource>(
      Object.entries(BUILTIN_FEEDS).map(([name, s]) => [name, { name, ...s }]),
    );
    for (const [name, s] of Object.entries(f.sources)) {
      const builtin = merged.get(name);
      if (builtin) {
        merged.set(name, { name, url: s.url ?? builtin.url, enabled: s.enabled ?? builtin.enabled });
      } else if (s.url === undefined) {
        const hint = closest(name, Object.keys(BUILTIN_FEEDS));
        ctx.addIssue({
          code: 'custom',
          path: ['sources', name, 'url'],
          message: hint
            ? `expected a url for a source that is not built in; did you mean the built-in source "${hint}"?`
            : `expected a url for a source that is not built in (built in: ${Object.keys(BUILTIN_FEEDS).join(', ')})`,
          input: undefined,
        });
      } else {
        merged.set(name, { name, url: s.url, enabled: s.enabled ?? true });
      }
    }
    return { syncInterval: f.syncInterval, maxAge: f.maxAge, sources: [...merged.values()] };
  });
export type Feeds = z.infer<typeof Feeds>;

/** An absolute path on a managed host, passed to commands as one argument (never through a shell). */
const HostPath = z
  .string()
  .max(1024)
  .refine(
    // eslint-disable-next-line no-control-regex
    (p) => p.startsWith('/') && !/[\u0000-\u001f\u007f]/.test(p) && !p.split('/').includes('..'),
    { message: 'expected an absolute path without ".." or control characters' },
  );

export const InventorySchedule = z.strictObject({
  /** How often `patchbot worker` collects the inventory of every host (then re-matches and notifies). */
  collectInterval: Duration.prefault('24h'),
  /** Read DMI facts, fwupd devices and HSI attributes (docs/inventory.md). */
  firmware: z.boolean().default(true),
  /** Interpreters whose `python -m pip list --format=json` is read. */
  python: z.array(HostPath).max(32).default(['/usr/bin/python3']),
  /** Directories searched (5 levels deep) for the `*.dist-info/METADATA` of system Python packages. */
  sitePackages: z.array(HostPath).max(32).default(['/usr/lib/python3', '/usr/local/lib']),
  /** Read the global npm packages (`npm ls -g --json --all`). */
  npm: z.boolean().default(true),
  /** Files or directories searched for lockfiles (package-lock.json, requirements*.txt, poetry.lock, go.sum, Cargo.lock, Gemfile.lock). */
  lockfiles: z.array(HostPath).max(64).default([]),
  /** How many directory levels below each lockfiles path are searched. */
  lockfileDepth: intIn(0, 16).default(4),
});
export type InventorySchedule = z.infer<typeof InventorySchedule>;

export const Notifications = z.strictObject({
  /** More newly relevant fixes than this for one team at once are posted as one summary. */
  burstThreshold: positiveInt().default(20),
  /** Announce only fixes whose risk score is at least this (0 = all). */
  minRisk: intIn(0, 100, 'a risk score').default(0),
  /** Default quiet hours for teams without their own. */
  quietHours: QuietHours.optional(),
});
export type Notifications = z.infer<typeof Notifications>;

export const RiskAcceptancePolicy = z.strictObject({
  /** The longest a risk acceptance may last; longer requests are refused. */
  maxExpiryDays: positiveInt().default(90),
  /** Offered by default in the accept-risk dialog. */
  defaultExpiryDays: positiveInt().default(30),
});
export type RiskAcceptancePolicy = z.infer<typeof RiskAcceptancePolicy>;

export const Reporting = z.strictObject({
  /** A host is covered when it has no open finding in this risk band or above. */
  coverageThreshold: z.enum(['critical', 'high', 'medium', 'low']).default('high'),
  /** Accepted risks expiring within this many days are listed in digests. */
  expiringSoonDays: positiveInt().default(14),
  trendWeeks: intIn(1, 104).default(12),
});
export type Reporting = z.infer<typeof Reporting>;

// ---------------------------------------------------------------------------------------------
// ITSM: change records in ServiceNow and Jira Service Management (docs/integrations.md)

/** The name of an environment variable that holds a credential (the policy never holds one). */
const EnvVarName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]{0,127}$/, { error: 'expected the name of an environment variable (A-Z, 0-9, _)' });

/** An https URL without credentials, query or fragment (http only for loopback, with allowHttp). */
const ServiceUrl = z
  .string()
  .refine(
    (s) => {
      try {
        const u = new URL(s);
        return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password && !u.search;
      } catch {
        return false;
      }
    },
    { error: 'expected an https URL such as https://example.service-now.com (no credentials, no query)' },
  )
  .transform((s) => s.replace(/\/+$/, ''));

const ItsmCommon = {
  enabled: z.boolean().default(true),
  /** Only changes of these teams get records (all teams when left out). */
  teams: names(Name).optional(),
  /** Each request gives up after this long (then it is retried as a transient failure). */
  timeout: Duration.prefault('15s'),
  /** Plain http to a loopback address (a local stand-in); never for a real instance. */
  allowHttpLoopback: z.boolean().default(false),
};

export const ServiceNowAuth = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('basic'),
    usernameEnv: EnvVarName.default('SERVICENOW_USERNAME'),
    passwordEnv: EnvVarName.default('SERVICENOW_PASSWORD'),
  }),
  z.strictObject({
    /** OAuth 2.0 client credentials grant (POST /oauth_token.do). */
    kind: z.literal('oauth'),
    clientIdEnv: EnvVarName.default('SERVICENOW_CLIENT_ID'),
    clientSecretEnv: EnvVarName.default('SERVICENOW_CLIENT_SECRET'),
  }),
]);
export type ServiceNowAuth = z.infer<typeof ServiceNowAuth>;

export const ServiceNowIntegration = z.strictObject({
  ...ItsmCommon,
  /** The instance, e.g. https://example.service-now.com */
  instanceUrl: ServiceUrl,
  auth: ServiceNowAuth.prefault({ kind: 'basic' }),
  /** change_request.assignment_group and incident.assignment_group (a sys_id or a group name). */
  assignmentGroup: z.string().min(1).optional(),
  /** change_request.category (ServiceNow's default choices include "Software"). */
  category: z.string().min(1).default('Software'),
  /** Open an incident caused by the change when a deployment halts or fails. */
  incidents: z.boolean().default(true),
  /**
   * The CAB gate (approval.itsm: required): how soon the change_request's approval is read again
   * after a reading that found no decision; doubles after each reading up to `max`.
   */
  approvalPoll: z
    .strictObject({ initial: Duration.prefault('30s'), max: Duration.prefault('15m') })
    .prefault({}),
});
export type ServiceNowIntegration = z.infer<typeof ServiceNowIntegration>;

export const JiraIntegration = z.strictObject({
  ...ItsmCommon,
  /** The site, e.g. https://example.atlassian.net */
  baseUrl: ServiceUrl,
  emailEnv: EnvVarName.default('JIRA_EMAIL'),
  apiTokenEnv: EnvVarName.default('JIRA_API_TOKEN'),
  /** The project key changes are filed in ("OPS"). */
  project: z.string().regex(/^[A-Z][A-Z0-9_]{0,254}$/, { error: 'expected a Jira project key such as OPS' }),
  issueType: z.string().min(1).default('Change'),
  incidentIssueType: z.string().min(1).default('Incident'),
  /** Open a linked incident issue when a deployment halts or fails. */
  incidents: z.boolean().default(true),
  /** The issue link type between the incident and the change ("Relates", "Blocks", "Problem/Incident"...). */
  linkType: z.string().min(1).default('Relates'),
  /** Transition names (as the project's workflow calls them) per rollout step; a step left out is not transitioned. */
  transitions: z
    .strictObject({
      scheduled: z.string().min(1).optional(),
      implement: z.string().min(1).default('Implementing'),
      review: z.string().min(1).optional(),
      completed: z.string().min(1).default('Completed'),
      failed: z.string().min(1).default('Failed'),
      rejected: z.string().min(1).default('Declined'),
    })
    .prefault({}),
});
export type JiraIntegration = z.infer<typeof JiraIntegration>;

export const Itsm = z.strictObject({
  servicenow: ServiceNowIntegration.optional(),
  jira: JiraIntegration.optional(),
});
export type Itsm = z.infer<typeof Itsm>;

// ---------------------------------------------------------------------------------------------
// roles: who may run which chat command and press which button (core/policy/roles.ts)

/** Who holds a role: everyone, or these people and the members of these groups. */
export const RoleGrant = z.strictObject({
  everyone: z.boolean().default(false),
  slackUsers: z.array(SlackUserId).default([]),
  slackUserGroups: z.array(SlackUserGroupId).default([]),
  /** Entra (Azure AD) object ids of Microsoft Teams users. */
  entraUsers: z.array(EntraObjectId).default([]),
  /** Entra group object ids (members read through Microsoft Graph). */
  entraGroups: z.array(EntraObjectId).default([]),
});
export type RoleGrant = z.infer<typeof RoleGrant>;

/**
 * Each role includes the ones before it (viewer < requester < approver < operator < admin). A role
 * the file leaves out is everyone's, except admin, which is nobody's: listing people in a role
 * restricts it to them (and to the holders of the roles above it).
 */
export const Roles = z.strictObject({
  /** /patch status, /patch coverage, Details. */
  viewer: RoleGrant.prefault({ everyone: true }),
  /** Request rollout, /patch request. */
  requester: RoleGrant.prefault({ everyone: true }),
  /** Approve, Reject, Defer, Accept risk (the approval rules still say for which changes). */
  approver: RoleGrant.prefault({ everyone: true }),
  /** Pause, Resume, Abort, Roll back (for the change's approvers), /patch digest. */
  operator: RoleGrant.prefault({ everyone: true }),
  /** patch link (binding a Microsoft Teams channel to a team). */
  admin: RoleGrant.prefault({}),
});
export type Roles = z.infer<typeof Roles>;

// ---------------------------------------------------------------------------------------------
// the file

export const PolicyFile = z.strictObject({
  version: z.literal(1, { error: 'expected 1 (the only policy file version)' }).default(1),
  /** Environment names hosts, approvers and rules may use. */
  environments: z.array(Name).min(1).default(['production', 'staging', 'development']),
  teams: z.array(Team).default([]),
  hosts: z.array(HostEntry).default([]),
  groups: z.array(HostGroup).default([]),
  routing: Routing.prefault({}),
  rings: z.array(Ring).min(1).prefault(DEFAULT_RINGS_INPUT),
  maintenanceWindows: z.array(MaintenanceWindow).default([]),
  approval: Approval.prefault({}),
  deployments: Deployments.prefault({}),
  ssh: SshDefaults.prefault({}),
  risk: RiskPolicy.prefault({}),
  riskAcceptance: RiskAcceptancePolicy.prefault({}),
  feeds: Feeds.prefault({}),
  coverage: CoveragePolicy.prefault({}),
  inventory: InventorySchedule.prefault({}),
  notifications: Notifications.prefault({}),
  reporting: Reporting.prefault({}),
  roles: Roles.prefault({}),
  /** Signed CloudEvents for other systems (policy-webhooks.ts, docs/integrations.md). */
  webhooks: Webhooks,
  itsm: Itsm.prefault({}),
});

/** The validated policy: hosts carry their resolved address, port and user. */
export const Policy = PolicyFile.transform((p) => ({
  ...p,
  hosts: p.hosts.map((h) => ({
    ...h,
    address: h.address ?? h.name,
    port: h.port ?? p.ssh.port,
    user: h.user ?? p.ssh.user,
    identityFile: h.identityFile ?? p.ssh.identityFile,
    sudo: h.sudo ?? p.deployments.sudo,
  })),
}));
export type Policy = z.output<typeof Policy>;
export type PolicyInput = z.input<typeof Policy>;
export type Host = Policy['hosts'][number];
