/**
 * What the ITSM sinks need from the rest of patchbot: the change and deployment as stored, the
 * store of ITSM records (ItsmLink) and delivered events, and where the change's chat thread is.
 */
import { PATCHBOT_EVENT_TYPES, type PatchbotEvent, type PatchbotEventType } from '../../core/events/event.js';
import type { AuditRepository } from '../../db/repositories/audit-repository.js';
import type { ChangeRepository } from '../../db/repositories/change-repository.js';
import type { DeploymentRepository } from '../../db/repositories/deployment-repository.js';
import type { ItsmLinkRepository } from '../../db/repositories/itsm-link-repository.js';
import type { Logger } from '../../logging/logger.js';
import type { ChangeContext } from './content.js';
import type { FetchFn } from './http.js';

/**
 * The events a change record follows: all but `change.opened` (a campaign is announced long before
 * anyone asks for a rollout; its record starts with the request).
 */
export const ITSM_EVENTS: ReadonlySet<PatchbotEventType> = new Set(
  PATCHBOT_EVENT_TYPES.filter((t) => t !== 'change.opened'),
);

export interface ItsmDeps {
  changes: Pick<ChangeRepository, 'get' | 'transact'>;
  deployments: Pick<DeploymentRepository, 'detail' | 'latestForChange'>;
  links: ItsmLinkRepository;
  audit: Pick<AuditRepository, 'append'>;
  logger: Logger;
  /**
   * The change's chat thread as a link people can open (Slack permalink, Teams deep link);
   * undefined when the change has no message. See `chatThreadLinks`.
   */
  threadUrl?: (changeId: string) => Promise<string | undefined>;
  /**
   * Re-renders the change's chat messages (the approval use case's messenger) once a record is
   * created, so the message shows it; its failures are logged, never fail a delivery.
   */
  refresh?: (changeId: string) => Promise<void>;
  /** Default: global fetch. */
  fetch?: FetchFn;
}

export async function loadContext(deps: ItsmDeps, event: PatchbotEvent): Promise<ChangeContext> {
  const change = await deps.changes.get(event.changeId);
  let deployment;
  if (event.deploymentId) deployment = await deps.deployments.detail(event.deploymentId);
  else {
    const latest = await deps.deployments.latestForChange(event.changeId);
    if (latest) deployment = await deps.deployments.detail(latest.id);
  }
  let threadUrl: string | undefined;
  try {
    threadUrl = await deps.threadUrl?.(event.changeId);
  } catch (err) {
    deps.logger.warn({ err, change: change.number }, 'could not read the chat thread link');
  }
  return { change, deployment, threadUrl };
}

/** Tells the chat messages a record was created (logged when that fails). */
export async function refreshChat(deps: ItsmDeps, changeId: string): Promise<void> {
  if (!deps.refresh) return;
  try {
    await deps.refresh(changeId);
  } catch (err) {
    deps.logger.warn(
      { err, changeId },
      'could not refresh the chat message after an ITSM record was created',
    );
  }
}
