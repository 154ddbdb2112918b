/**
 * A deployment's progress as a reply in its change's thread: one sentence (ring started, ring
 * passed, a host failed, halted, rolled back, done), the hosts it concerns (failures with the
 * first lines of their error, rollback results), what a person can do next, and the people and
 * groups to notify (a halt mentions the change's approvers).
 */

/**
 * A person or group to notify. Each platform renders the mentions of its own platform (Slack
 * `<@U…>` / `<!subteam^S…>`, Teams `<at>`) and shows the name, when given, for the others.
 */
export interface ChatMention {
  platform: 'slack' | 'teams';
  kind: 'user' | 'group';
  /** Slack user id (U…/W…) or user group id (S…); Teams AAD object id. */
  id: string;
  name?: string;
}

export type DeploymentHostOutcome =
  'succeeded' | 'failed' | 'skipped' | 'rolled_back' | 'rollback_failed' | 'unchanged';

export interface DeploymentHostLine {
  host: string;
  outcome: DeploymentHostOutcome;
  /** Failures: the step and the first lines of the error; rollbacks: what was restored or why not. */
  detail?: string;
}

export interface DeploymentProgressView {
  type: 'deployment-progress';
  /** The change request the deployment belongs to. */
  changeId: string;
  changeNumber?: number;
  /** The deployment's short number ("deployment #3"); absent when none was created. */
  deployment?: number;
  tone: 'info' | 'success' | 'warning' | 'error';
  /** One sentence: "Ring 2/3 (pilot) passed: 5 succeeded, 0 failed, 0 skipped." */
  text: string;
  /** Hosts this reply is about, in the order to show them. */
  hosts?: DeploymentHostLine[];
  /** What happens next or what a person can do ("Press Roll back to restore…"). */
  detail?: string;
  /** Who to notify (a halt mentions the change's approvers). */
  mentions?: ChatMention[];
  at: Date;
}
