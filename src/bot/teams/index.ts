export { createTeamsEdge, TEAMS_MESSAGES_PATH, type CreateTeamsEdgeOptions, type TeamsEdge } from './app.js';
export { bearerToken, PUBLIC_CLOUD, type TeamsAuthOptions } from './auth.js';
export { entraGroupMembers, type EntraGroupsOptions } from './graph.js';
export { commandText, TeamsBot, type TeamsConversationStore } from './bot.js';
export { CARD_CONTENT_TYPE, LIMITS, type AdaptiveCard } from './cards.js';
export { parseForm, renderConfirm, renderForm } from './forms.js';
export { TeamsPoster, type TeamsPosterOptions } from './poster.js';
export {
  CAMPAIGN_VERBS,
  REFRESH_VERB,
  renderCampaign,
  renderCampaignWithNotices,
  renderCard,
  renderCoverage,
  renderDeploymentProgress,
  renderDigest,
  renderHelp,
  renderHostList,
  renderNotice,
  renderStatus,
  renderSummary,
  type TeamsMessage,
} from './render.js';
