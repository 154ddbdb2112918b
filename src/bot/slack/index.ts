export {
  createSlackApp,
  SLACK_EVENTS_PATH,
  type CreateSlackAppOptions,
  type SlackEdge,
  type SlackHandlers,
} from './app.js';
export { SlackPoster, type SlackPosterOptions } from './poster.js';
export {
  ACTION_IDS,
  renderCampaign,
  renderCoverage,
  renderHelp,
  renderHostList,
  renderMessage,
  renderNotice,
  renderStatus,
  renderSummary,
  type SlackMessage,
} from './render.js';
export { buildModal, CALLBACK_IDS, parseSubmission } from './modals.js';
export { LIMITS } from './blocks.js';
