/**
 * The deployment jobs, all on the `deployments` queue:
 *
 * - deployment.ring: the parent of one ring's flow; runs when the ring's lanes are done and
 *   passes the ring (soak, next ring) or halts it.
 * - deployment.lane: claims and deploys the ring's hosts one after another; a ring has as many
 *   lanes as its concurrency, so the ring's concurrency is what runs at once.
 * - deployment.advance: moves a deployment on at a time of the engine's clock (end of a soak).
 * - deployment.rollback: rolls back the hosts of the rings being rolled back.
 * - deployment.reconcile: re-creates missing jobs from PostgreSQL (Redis lost them).
 *
 * Lanes, advance and rollback jobs re-delay themselves (waiting for a window, a soak, a lease)
 * instead of holding a worker.
 */
import { z } from 'zod';
import type { JobDefinition } from '../definitions.js';

const Uuid = z.string().uuid();

function define<S extends z.ZodType>(def: JobDefinition<S>): JobDefinition<S> {
  return def;
}

export const DeploymentJobs = {
  ring: define({
    name: 'deployment.ring',
    queue: 'deployments',
    schema: z.strictObject({
      deploymentId: Uuid,
      ringIndex: z.number().int().min(0).max(1000),
      generation: z.number().int().min(1),
    }),
    attempts: 5,
  }),
  lane: define({
    name: 'deployment.lane',
    queue: 'deployments',
    schema: z.strictObject({
      deploymentId: Uuid,
      ringIndex: z.number().int().min(0).max(1000),
      generation: z.number().int().min(1),
      lane: z.number().int().min(0).max(10_000),
    }),
    attempts: 5,
  }),
  advance: define({
    name: 'deployment.advance',
    queue: 'deployments',
    schema: z.strictObject({ deploymentId: Uuid }),
    attempts: 5,
  }),
  rollback: define({
    name: 'deployment.rollback',
    queue: 'deployments',
    schema: z.strictObject({ deploymentId: Uuid }),
    attempts: 5,
  }),
  reconcile: define({
    name: 'deployment.reconcile',
    queue: 'deployments',
    schema: z.strictObject({}),
    attempts: 1,
  }),
} as const;

export const DEPLOYMENT_QUEUE = 'deployments' as const;
