/**
 * The prefix of patchbot's keys in Redis (its BullMQ queues). PATCHBOT_QUEUE_PREFIX when set;
 * otherwise derived from the installation's id stored in its database, so every process of one
 * installation (serve, worker, the CLI commands that enqueue) agrees on it and two installations on
 * one Redis never consume each other's jobs.
 */

/** "patchbot-<first 16 hex digits of the installation id>". */
export function derivedQueuePrefix(installationId: string): string {
  return `patchbot-${installationId.slice(0, 16)}`;
}

/** The configured prefix, else the one derived from the installation id (read only when needed). */
export async function resolveQueuePrefix(
  configured: string | undefined,
  installationId: () => Promise<string>,
): Promise<string> {
  return configured ?? derivedQueuePrefix(await installationId());
}
