/**
 * Jira Service Management as an event sink: the same flow as ServiceNow, as issues of a configured
 * project and issue type. The change issue is created when a rollout is requested (or when the
 * change is approved if nobody requested it, or at the latest when its deployment is planned),
 * carries a remote link to the chat thread, is moved through the workflow by transition names
 * (itsm.jira.transitions: scheduled, implement, review, completed, failed, rejected), gets a
 * comment for each ring and each failed host, and a halted deployment opens an incident issue
 * linked to it.
 *
 * Idempotent per event id (ItsmDelivery); issues are found again by their label
 * ("patchbot-change-<id>", "patchbot-deployment-<id>") before one is created. A comment may
 * repeat when a delivery is retried after a crash, never an issue.
 */
import type { EventSink, PatchbotEvent } from '../../../core/events/event.js';
import type { JiraIntegration, Policy } from '../../../config/policy-schema.js';
import type { ItsmLinkRecord } from '../../../db/repositories/itsm-link-repository.js';
import {
  backoutPlan,
  description,
  implementationPlan,
  outcome,
  progressLine,
  riskBand,
  shortDescription,
  testPlan,
  type ChangeContext,
} from '../content.js';
import { ITSM_EVENTS, loadContext, refreshChat, type ItsmDeps } from '../deps.js';
import { adf as adfOf, type JiraClient } from './client.js';

export const JIRA_SINK = 'jira';

export const changeLabel = (changeId: string) => `patchbot-change-${changeId}`;
export const deploymentLabel = (deploymentId: string) => `patchbot-deployment-${deploymentId}`;

type Step = keyof JiraIntegration['transitions'];
const ORDER: Step[] = ['scheduled', 'implement', 'review', 'completed'];
const FINAL = new Set(['completed', 'failed', 'rejected']);

export interface JiraSinkOptions {
  config: JiraIntegration;
  policy: Pick<Policy, 'rings' | 'deployments'>;
  client: JiraClient;
  deps: ItsmDeps;
}

export function createJiraSink(options: JiraSinkOptions): EventSink {
  const { config, policy, client, deps } = options;
  const links = deps.links;
  const log = deps.logger.child({ sink: JIRA_SINK });

  async function ensureIssue(ctx: ChangeContext, signal: AbortSignal): Promise<ItsmLinkRecord> {
    const c = ctx.change;
    const stored = await links.find(c.id, 'jira');
    if (stored) return stored;
    const label = changeLabel(c.id);
    let issue = await client.findByLabel(config.project, label, signal);
    if (!issue) {
      const text = [
        description(ctx),
        `Risk: ${riskBand(c).text}.`,
        `Implementation plan:\n${implementationPlan(ctx, policy)}`,
        `Test plan:\n${testPlan(ctx, policy)}`,
        `Backout plan:\n${backoutPlan(policy)}`,
      ].join('\n\n');
      issue = await client.createIssue(
        {
          project: { key: config.project },
          issuetype: { name: config.issueType },
          summary: shortDescription(c),
          description: adfOf(text),
          labels: ['patchbot', label, ...(c.emergency ? ['emergency-change'] : [])],
        },
        signal,
      );
      log.info({ change: c.number, issue: issue.key }, 'Jira issue created');
      if (ctx.threadUrl) {
        await client.remoteLink(issue.key, ctx.threadUrl, `patchbot #${c.number} chat thread`, signal);
      }
    }
    const link = await links.create({
      changeRequestId: c.id,
      system: 'jira',
      kind: 'change',
      externalId: issue.id,
      number: issue.key,
      url: client.issueUrl(issue.key),
      state: 'open',
    });
    await refreshChat(deps, c.id);
    return link;
  }

  /** Moves the issue to `step` (never back along scheduled → implement → review → completed). */
  async function moveTo(link: ItsmLinkRecord, step: Step, signal: AbortSignal): Promise<void> {
    if (link.state !== null && FINAL.has(link.state)) return;
    const here = ORDER.indexOf(link.state as Step);
    const there = ORDER.indexOf(step);
    if (here >= 0 && there >= 0 && here >= there) return;
    const name = config.transitions[step];
    if (name !== undefined) await client.transition(link.number, name, signal);
    await links.setState(link.id, step);
    link.state = step;
  }

  async function openIncident(
    ctx: ChangeContext,
    change: ItsmLinkRecord,
    reason: string,
    signal: AbortSignal,
  ) {
    const d = ctx.deployment;
    if (!config.incidents || !d) return;
    if (await links.find(ctx.change.id, 'jira', 'incident', d.id)) return;
    const label = deploymentLabel(d.id);
    let issue = await client.findByLabel(config.project, label, signal);
    if (!issue) {
      const failed = d.rings
        .flatMap((r) => r.hosts)
        .filter((h) => h.status === 'failed' || h.status === 'rollback_failed');
      issue = await client.createIssue(
        {
          project: { key: config.project },
          issuetype: { name: config.incidentIssueType },
          summary: `patchbot deployment #${d.number} of change #${ctx.change.number} halted: ${ctx.change.packageName} ${ctx.change.fixedVersion}`,
          description: adfOf(
            [
              reason,
              failed.length > 0
                ? `Failed hosts:\n${failed.map((h) => `${h.hostName}: ${(h.error ?? 'failed').split('\n')[0]}`).join('\n')}`
                : '',
              `Change: ${change.number}`,
              ctx.threadUrl ? `Chat thread: ${ctx.threadUrl}` : '',
            ]
              .filter((l) => l !== '')
              .join('\n\n'),
          ),
          labels: ['patchbot', label],
        },
        signal,
      );
      log.info({ change: ctx.change.number, issue: issue.key }, 'Jira incident created');
    }
    await client.link(config.linkType, issue.key, change.number, signal);
    await links.create({
      changeRequestId: ctx.change.id,
      system: 'jira',
      kind: 'incident',
      subject: d.id,
      externalId: issue.id,
      number: issue.key,
      url: client.issueUrl(issue.key),
      state: 'open',
    });
    await refreshChat(deps, ctx.change.id);
    await client.comment(change.number, `Incident ${issue.key} opened: ${reason}`, signal);
  }

  async function comment(link: ItsmLinkRecord, text: string | undefined, signal: AbortSignal) {
    if (text) await client.comment(link.number, text, signal);
  }

  async function handle(event: PatchbotEvent, signal: AbortSignal): Promise<void> {
    const ctx = await loadContext(deps, event);
    const c = ctx.change;
    const existing = await links.find(c.id, 'jira');
    switch (event.type) {
      case 'change.requested':
        await ensureIssue(ctx, signal);
        return;
      case 'change.approved': {
        const link = await ensureIssue(ctx, signal);
        await comment(link, `Approved in chat (patchbot #${c.number}).`, signal);
        return;
      }
      case 'change.rejected': {
        if (!existing || (existing.state !== null && FINAL.has(existing.state))) return;
        await client.transition(existing.number, config.transitions.rejected, signal);
        await links.setState(existing.id, 'rejected');
        await comment(existing, `Rejected (patchbot #${c.number}).`, signal);
        return;
      }
      case 'change.deferred':
      case 'change.escalated':
      case 'change.risk_accepted':
        if (existing) await comment(existing, progressLine(event, ctx), signal);
        return;
      case 'deployment.planned': {
        const link = await ensureIssue(ctx, signal);
        await moveTo(link, 'scheduled', signal);
        await comment(
          link,
          `${progressLine(event, ctx) ?? ''}\n\n${implementationPlan(ctx, policy)}`,
          signal,
        );
        return;
      }
      case 'deployment.started': {
        const link = await ensureIssue(ctx, signal);
        await moveTo(link, 'implement', signal);
        await comment(link, progressLine(event, ctx), signal);
        return;
      }
      case 'deployment.ring_completed':
      case 'host.failed': {
        const link = await ensureIssue(ctx, signal);
        await comment(link, progressLine(event, ctx), signal);
        return;
      }
      case 'deployment.halted': {
        const link = await ensureIssue(ctx, signal);
        const line = progressLine(event, ctx) ?? 'The deployment halted.';
        await comment(link, line, signal);
        await openIncident(ctx, link, line, signal);
        return;
      }
      case 'deployment.completed':
      case 'deployment.rolled_back': {
        const link = await ensureIssue(ctx, signal);
        const result = outcome(ctx.deployment, event.type);
        const incidents = (await links.forChange(c.id)).filter(
          (l) => l.system === 'jira' && l.kind === 'incident',
        );
        const notes = `${result.notes}${incidents.length > 0 ? ` Incidents: ${incidents.map((i) => i.number).join(', ')}.` : ''}`;
        if (link.state !== null && FINAL.has(link.state)) {
          await comment(link, notes, signal);
          return;
        }
        await comment(link, notes, signal);
        if (result.result === 'unsuccessful') {
          await client.transition(link.number, config.transitions.failed, signal);
          await links.setState(link.id, 'failed');
        } else {
          await moveTo(link, 'review', signal);
          await moveTo(link, 'completed', signal);
        }
        return;
      }
      default:
        return;
    }
  }

  return {
    name: JIRA_SINK,
    accepts(event) {
      if (!config.enabled || !ITSM_EVENTS.has(event.type)) return false;
      if (config.teams && (event.teamName === null || !config.teams.includes(event.teamName))) return false;
      return true;
    },
    async deliver(event, signal) {
      if (await links.delivered('jira', event.id)) return;
      await handle(event, signal);
      await links.markDelivered('jira', event.id);
    },
  };
}
