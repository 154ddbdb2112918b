/**
 * Which deployment progress becomes an outbound event (webhooks, ITSM): written to the outbox
 * with the chat thread's message, in the same transaction as the state change.
 *
 * | progress | event |
 * |---|---|
 * | scheduled | deployment.planned |
 * | first ring started | deployment.started |
 * | ring passed | deployment.ring_completed |
 * | ring halted (failure budget), aborted by a person | deployment.halted |
 * | rollback finished (`ok` says whether every host was restored) | deployment.rolled_back |
 * | completed | deployment.completed |
 * | host failed | host.failed |
 */
import type { EventDraft } from '../../db/repositories/event-outbox.js';
import type { DeploymentProgressEvent, RingRef } from './types.js';

const ring = (r: RingRef) => ({ name: r.name, number: r.number, of: r.of });
const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function eventDraftOf(e: DeploymentProgressEvent): EventDraft | undefined {
  const base = { changeId: e.changeRequestId, deploymentId: e.deploymentId };
  const dep = { deploymentNumber: e.deploymentNumber };
  switch (e.type) {
    case 'scheduled':
      return {
        ...base,
        type: 'deployment.planned',
        data: {
          ...dep,
          emergency: e.emergency,
          rings: e.rings,
          hosts: e.hosts,
          firstStart: iso(e.firstStart),
        },
      };
    case 'ring_started':
      return e.ring.index === 0
        ? { ...base, type: 'deployment.started', data: { ...dep, ring: ring(e.ring), hosts: e.hosts } }
        : undefined;
    case 'ring_passed':
      return {
        ...base,
        type: 'deployment.ring_completed',
        data: {
          ...dep,
          ring: ring(e.ring),
          succeeded: e.succeeded,
          failed: e.failed,
          skipped: e.skipped,
          soakUntil: iso(e.soakUntil),
        },
      };
    case 'ring_halted':
      return {
        ...base,
        type: 'deployment.halted',
        data: { ...dep, ring: ring(e.ring), reason: e.reason, failed: e.failed, rollingBack: e.rollingBack },
      };
    case 'state_changed':
      return e.action === 'abort'
        ? {
            ...base,
            type: 'deployment.halted',
            data: { ...dep, reason: `aborted by ${e.actor}`, actor: e.actor, from: e.from, to: e.to },
          }
        : undefined;
    case 'rollback_finished':
      return { ...base, type: 'deployment.rolled_back', data: { ...dep, ok: e.ok, hosts: e.hosts } };
    case 'completed':
      return {
        ...base,
        type: 'deployment.completed',
        data: { ...dep, succeeded: e.succeeded, failed: e.failed, skipped: e.skipped },
      };
    case 'host_failed':
      return {
        ...base,
        type: 'host.failed',
        data: { ...dep, host: e.host, ring: ring(e.ring), step: e.step, error: e.error },
      };
    default:
      return undefined;
  }
}
