/**
 * The production executor factory for deployments: the stored host with its pinned SSH host key
 * (refused before any command when none is pinned or the key changed), or the local executor for a
 * host whose address is `local`.
 */
import { NotFoundError } from '../../core/errors.js';
import { executorFor, type InventoryDeps } from '../inventory.js';
import type { ExecutorFactory } from './types.js';

export function createExecutorFactory(
  deps: InventoryDeps,
  options: { connectTimeoutMs?: number } = {},
): ExecutorFactory {
  return async (target) => {
    const host = await deps.repos.hosts.get(target.hostName);
    if (!host)
      throw new NotFoundError(`host ${target.hostName} is no longer known; it cannot be deployed to`);
    return executorFor(
      deps,
      host,
      options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {},
    );
  };
}
