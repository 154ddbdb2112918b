/**
 * ServiceNow as an event sink. A change gets one change_request, created when someone requests
 * its rollout (change.requested), or when it is approved if nobody requested it (a change approved
 * straight from the CLI), or at the latest when its deployment is planned. The record then follows
 * the rollout: Assess when approved in chat (the CAB's turn), Scheduled with the planned start and
 * end when the deployment is planned, Implement when it starts, work notes for each ring and each
 * failed host, Review then Closed with close_code successful / successful_issues / unsuccessful.
 * A halted deployment opens an incident caused by the change.
 *
 * Idempotent per event id (ItsmDelivery); records are found again by correlation_id
 * ("patchbot:change:<id>", "patchbot:deployment:<id>") before one is created, so a delivery
 * retried after a crash between the create and the link row adopts the record instead of
 * creating a second. A work note may repeat in that window, never a record.
 */
import type { EventSink, PatchbotEvent } from '../../../core/events/event.js';
import type { Policy, ServiceNowIntegration } from '../../../config/policy-schema.js';
import type { ItsmLinkRecord } from '../../../db/repositories/itsm-link-repository.js';
import {
  backoutPlan,
  description,
  hostNames,
  implementationPlan,
  outcome,
  plannedWindow,
  progressLine,
  riskBand,
  shortDescription,
  testPlan,
  type ChangeContext,
} from '../content.js';
import { ITSM_EVENTS, loadContext, refreshChat, type ItsmDeps } from '../deps.js';
import { CHANGE_STATE, type ChangeStateName, type ServiceNowClient } from './client.js';

export const SERVICENOW_SINK = 'servicenow';

/** "2026-12-05 02:00:00" in UTC: the Table API's value format for glide_date_time fields. */
export function glideDateTime(d: Date): string {
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '');
}

/** change_request.risk: 1 very high, 2 high, 3 moderate, 4 low; an unknown score is high. */
export function changeRisk(c: ChangeContext['change']): string {
  const band = riskBand(c).band;
  return band === 'critical'
    ? '1'
    : band === 'high' || band === 'unknown'
      ? '2'
      : band === 'medium'
        ? '3'
        : '4';
}

const urgency = (c: ChangeContext['change']): string => {
  const band = riskBand(c).band;
  return band === 'critical' || band === 'high' || band === 'unknown' ? '1' : band === 'medium' ? '2' : '3';
};

export const changeCorrelation = (changeId: string) => `patchbot:change:${changeId}`;
export const deploymentCorrelation = (deploymentId: string) => `patchbot:deployment:${deploymentId}`;

const STATE_ORDER: ChangeStateName[] = [
  'new',
  'assess',
  'authorize',
  'scheduled',
  'implement',
  'review',
  'closed',
];
const isAfter = (current: string | null, next: ChangeStateName): boolean => {
  if (current === 'closed' || current === 'canceled') return true;
  const a = STATE_ORDER.indexOf((current ?? 'new') as ChangeStateName);
  return a >= STATE_ORDER.indexOf(next);
};

export interface ServiceNowSinkOptions {
  config: ServiceNowIntegration;
  policy: Pick<Policy, 'rings' | 'deployments' | 'approval'>;
  client: ServiceNowClient;
  deps: ItsmDeps;
}

export function createServiceNowSink(options: ServiceNowSinkOptions): EventSink {
  const { config, policy, client, deps } = options;
  const links = deps.links;
  const log = deps.logger.child({ sink: SERVICENOW_SINK });
  const cabGate = policy.approval.itsm !== 'off';
  // approval.itsm: only: the CAB's approval is the change's approval, asked for as soon as the
  // rollout is requested (the change_request goes to assessment then)
  const cabOnly = policy.approval.itsm === 'only';

  async function ensureChange(ctx: ChangeContext, signal: AbortSignal): Promise<ItsmLinkRecord> {
    const c = ctx.change;
    const stored = await links.find(c.id, 'servicenow');
    if (stored) return stored;
    const correlation = changeCorrelation(c.id);
    let record = await client.findByCorrelation('change_request', correlation, signal);
    if (!record) {
      const cis = await client.cis(hostNames(c), signal);
      const firstCi = hostNames(c)
        .map((h) => cis.get(h))
        .find((id) => id !== undefined);
      const when = plannedWindow(ctx.deployment);
      const fields: Record<string, string> = {
        type: c.emergency || ctx.deployment?.emergency ? 'emergency' : 'normal',
        short_description: shortDescription(c),
        description: description(ctx),
        category: config.category,
        risk: changeRisk(c),
        implementation_plan: implementationPlan(ctx, policy),
        test_plan: testPlan(ctx, policy),
        backout_plan: backoutPlan(policy),
        correlation_id: correlation,
        correlation_display: `patchbot #${c.number}`,
        state: CHANGE_STATE.new,
        ...(firstCi ? { cmdb_ci: firstCi } : {}),
        ...(config.assignmentGroup ? { assignment_group: config.assignmentGroup } : {}),
        ...(when.start ? { start_date: glideDateTime(when.start) } : {}),
        ...(when.end ? { end_date: glideDateTime(when.end) } : {}),
      };
      record = await client.create('change_request', fields, signal);
      log.info({ change: c.number, record: record.number }, 'ServiceNow change_request created');
    }
    const link = await links.create({
      changeRequestId: c.id,
      system: 'servicenow',
      kind: 'change',
      externalId: record.sys_id,
      number: record.number,
      url: client.recordUrl('change_request', record.sys_id),
      state: 'new',
    });
    await refreshChat(deps, c.id);
    return link;
  }

  async function move(
    link: ItsmLinkRecord,
    state: ChangeStateName,
    fields: Record<string, string>,
    signal: AbortSignal,
  ): Promise<void> {
    if (isAfter(link.state, state) && link.state !== state) {
      // never back: a late event only adds its note
      if (fields.work_notes)
        await client.update('change_request', link.externalId, { work_notes: fields.work_notes }, signal);
      return;
    }
    await client.update('change_request', link.externalId, { ...fields, state: CHANGE_STATE[state] }, signal);
    await links.setState(link.id, state);
    link.state = state;
  }

  async function note(link: ItsmLinkRecord, text: string | undefined, signal: AbortSignal): Promise<void> {
    if (!text) return;
    await client.update('change_request', link.externalId, { work_notes: text }, signal);
  }

  async function openIncident(
    ctx: ChangeContext,
    change: ItsmLinkRecord,
    reason: string,
    signal: AbortSignal,
  ) {
    const d = ctx.deployment;
    if (!config.incidents || !d) return;
    if (await links.find(ctx.change.id, 'servicenow', 'incident', d.id)) return;
    const correlation = deploymentCorrelation(d.id);
    let record = await client.findByCorrelation('incident', correlation, signal);
    if (!record) {
      const failed = d.rings
        .flatMap((r) => r.hosts)
        .filter((h) => h.status === 'failed' || h.status === 'rollback_failed');
      const hosts = failed.map((h) => h.hostName);
      const cis = await client.cis(hosts, signal);
      const firstCi = hosts.map((h) => cis.get(h)).find((id) => id !== undefined);
      record = await client.create(
        'incident',
        {
          short_description: `patchbot deployment #${d.number} of change #${ctx.change.number} halted: ${ctx.change.packageName} ${ctx.change.fixedVersion}`,
          description: [
            reason,
            failed.length > 0
              ? `Failed hosts:\n${failed.map((h) => `- ${h.hostName}: ${(h.error ?? 'failed').split('\n')[0]}`).join('\n')}`
              : '',
            `Change request: ${change.number}.`,
            ctx.threadUrl ? `Chat thread: ${ctx.threadUrl}` : '',
          ]
            .filter((l) => l !== '')
            .join('\n'),
          caused_by: change.externalId,
          rfc: change.externalId,
          urgency: urgency(ctx.change),
          impact: '2',
          correlation_id: correlation,
          correlation_display: `patchbot deployment #${d.number}`,
          ...(firstCi ? { cmdb_ci: firstCi } : {}),
          ...(config.assignmentGroup ? { assignment_group: config.assignmentGroup } : {}),
        },
        signal,
      );
      log.info({ change: ctx.change.number, record: record.number }, 'ServiceNow incident opened');
    }
    await links.create({
      changeRequestId: ctx.change.id,
      system: 'servicenow',
      kind: 'incident',
      subject: d.id,
      externalId: record.sys_id,
      number: record.number,
      url: client.recordUrl('incident', record.sys_id),
      state: 'new',
    });
    await refreshChat(deps, ctx.change.id);
    await note(change, `Incident ${record.number} opened: ${reason}`, signal);
  }

  async function close(
    ctx: ChangeContext,
    link: ItsmLinkRecord,
    event: PatchbotEvent,
    signal: AbortSignal,
  ): Promise<void> {
    const result = outcome(ctx.deployment, event.type);
    const incidents = (await links.forChange(ctx.change.id)).filter(
      (l) => l.system === 'servicenow' && l.kind === 'incident',
    );
    const code = result.result === 'successful' && incidents.length > 0 ? 'successful_issues' : result.result;
    const notes = `${result.notes}${incidents.length > 0 ? ` Incidents: ${incidents.map((i) => i.number).join(', ')}.` : ''}`;
    if (link.state === 'closed' || link.state === 'canceled') {
      await note(link, notes, signal);
      return;
    }
    await move(link, 'review', { work_notes: notes }, signal);
    await move(link, 'closed', { close_code: code, close_notes: notes }, signal);
  }

  async function handle(event: PatchbotEvent, signal: AbortSignal): Promise<void> {
    const ctx = await loadContext(deps, event);
    const c = ctx.change;
    const existing = await links.find(c.id, 'servicenow');
    switch (event.type) {
      case 'change.requested': {
        const link = await ensureChange(ctx, signal);
        if (cabOnly) {
          await move(
            link,
            'assess',
            { work_notes: `Rollout requested in chat; awaiting CAB approval (patchbot #${c.number}).` },
            signal,
          );
          await links.requestApproval(link.id);
        }
        return;
      }
      case 'change.approved': {
        const link = await ensureChange(ctx, signal);
        const how = cabOnly ? 'Approved by the CAB' : 'Approved in chat';
        await move(link, 'assess', { work_notes: `${how} (patchbot #${c.number}).` }, signal);
        if (cabGate) await links.requestApproval(link.id);
        return;
      }
      case 'change.rejected': {
        if (!existing) return;
        if (existing.state === 'closed' || existing.state === 'canceled') return;
        await client.update(
          'change_request',
          existing.externalId,
          { state: CHANGE_STATE.canceled, close_notes: `Rejected (patchbot #${c.number}).` },
          signal,
        );
        await links.setState(existing.id, 'canceled');
        return;
      }
      case 'change.deferred':
      case 'change.escalated':
      case 'change.risk_accepted': {
        if (existing) await note(existing, progressLine(event, ctx), signal);
        return;
      }
      case 'deployment.planned': {
        const link = await ensureChange(ctx, signal);
        const when = plannedWindow(ctx.deployment);
        await move(
          link,
          'scheduled',
          {
            implementation_plan: implementationPlan(ctx, policy),
            test_plan: testPlan(ctx, policy),
            ...(when.start ? { start_date: glideDateTime(when.start) } : {}),
            ...(when.end ? { end_date: glideDateTime(when.end) } : {}),
            work_notes: progressLine(event, ctx) ?? '',
          },
          signal,
        );
        return;
      }
      case 'deployment.started': {
        const link = await ensureChange(ctx, signal);
        await move(link, 'implement', { work_notes: progressLine(event, ctx) ?? '' }, signal);
        return;
      }
      case 'deployment.ring_completed':
      case 'host.failed': {
        const link = await ensureChange(ctx, signal);
        await note(link, progressLine(event, ctx), signal);
        return;
      }
      case 'deployment.halted': {
        const link = await ensureChange(ctx, signal);
        const line = progressLine(event, ctx) ?? 'The deployment halted.';
        await note(link, line, signal);
        await openIncident(ctx, link, line, signal);
        return;
      }
      case 'deployment.rolled_back':
      case 'deployment.completed': {
        const link = await ensureChange(ctx, signal);
        await close(ctx, link, event, signal);
        return;
      }
      default:
        return;
    }
  }

  return {
    name: SERVICENOW_SINK,
    accepts(event) {
      if (!config.enabled || !ITSM_EVENTS.has(event.type)) return false;
      if (config.teams && (event.teamName === null || !config.teams.includes(event.teamName))) return false;
      return true;
    },
    async deliver(event, signal) {
      if (await links.delivered('servicenow', event.id)) return;
      await handle(event, signal);
      await links.markDelivered('servicenow', event.id);
    },
  };
}
