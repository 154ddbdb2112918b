/**
 * What the approval use case needs from the rest of patchbot, and what it offers to it, as ports:
 * the deployment scheduler an approved change is handed to, the deployment controls the campaign
 * message's buttons press, and the campaign messages other use cases keep in sync (deployment
 * progress edits the message and writes into its thread).
 */
import type { MessageContent } from '../../bot/views/index.js';
import type { Surface } from '../../db/types.js';

/** Who caused something, as stored in decisions and the audit log. */
export interface DecisionActor {
  id: string;
  display?: string;
  surface: Surface;
}

export const DEPLOYMENT_CONTROLS = ['pause', 'resume', 'abort', 'rollback'] as const;
export type DeploymentControl = (typeof DEPLOYMENT_CONTROLS)[number];

/** The deployment side, as the approval use case calls it. */
export interface DeploymentPort {
  /**
   * A change just became approved: plan and schedule its deployment. Errors are reported in the
   * change's thread and leave the change approved (a person can retry with `patchbot deploy start`).
   */
  approved(changeId: string, actor: DecisionActor): Promise<{ summary: string }>;
  /** Pause, resume, abort or roll back the change's active deployment; one sentence for the person. */
  control(changeId: string, action: DeploymentControl, actor: DecisionActor): Promise<{ message: string }>;
}

/** The campaign messages of a change, on every chat platform it was posted to. */
export interface CampaignMessenger {
  /** Re-renders the change's top-level messages from live state (skips edits that change nothing). */
  refresh(changeId: string): Promise<void>;
  /** Writes into the thread of the change's messages. */
  reply(changeId: string, content: MessageContent): Promise<void>;
}

/**
 * Something outside patchbot that must also agree before an approved change is deployed (the
 * change advisory board in ServiceNow: policy `approval.itsm: required` or `only`).
 */
export interface DeploymentGate {
  /**
   * Undefined when the change may be deployed now; otherwise one sentence saying what it waits
   * for ("Waiting for CAB approval in ServiceNow CHG0031234"), with the record when there is one.
   */
  holds(changeId: string): Promise<{ summary: string; record?: { number: string; url: string } } | undefined>;
}
