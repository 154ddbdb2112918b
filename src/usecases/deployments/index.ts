export * from './types.js';
export { planChange, targetsForHost, toolFor, type ChangePlan, type PlanPolicy } from './plan.js';
export { runHostRun, firstLines, type HostRunOutcome } from './host-run.js';
export {
  advance,
  finishRing,
  reconcile,
  runLane,
  runRollback,
  startRing,
  settingsOf,
  type LaneResult,
} from './engine.js';
export {
  CONTROL_ACTIONS,
  createDeploymentService,
  deploymentControl,
  emergencyProblem,
  previewDeployment,
  scheduleDeployment,
  type ControlAction,
  type ControlInput,
  type ControlResult,
  type PlanPreview,
  type ScheduleInput,
  type ScheduleResult,
  type ServiceDeps,
} from './service.js';
export { createExecutorFactory } from './executors.js';
