export {
  createSlackApp,
  SLACK_EVENTS_PATH,
  type CreateSlackAppOptions,
  type SlackEdge,
  type SlackHandlers,
} from './app.js';
export { SlackPoster, type SlackPosterOptions } from './poster.js';
export { createSlackPoster, createSlackWebClient } from './web-client.js';
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
export { checkResponseUrl, respondVia, SLACK_RESPONSE_HOSTS } from './response-url.js';
export { slackGroupMembers, type GroupMembersOptions } from './groups.js';
