import type { CampaignView, HostListView } from './campaign.js';
import type { DeploymentProgressView } from './deployment.js';
import type { DigestView } from './digest.js';
import type { HelpView } from './help.js';
import type { NoticeView } from './notice.js';
import type { CoverageView, StatusView } from './status.js';
import type { SummaryView } from './summary.js';

export * from './common.js';
export * from './campaign.js';
export * from './summary.js';
export * from './status.js';
export * from './coverage-text.js';
export * from './help.js';
export * from './notice.js';
export * from './digest.js';
export * from './deployment.js';
export * from './modals.js';

/** Anything patchbot posts: every platform renders each of these. */
export type MessageContent =
  | CampaignView
  | HostListView
  | SummaryView
  | StatusView
  | CoverageView
  | HelpView
  | NoticeView
  | DigestView
  | DeploymentProgressView;
