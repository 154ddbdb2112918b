/** A short message to one person (ephemeral): refusals, confirmations, "working on it". */
export interface NoticeView {
  type: 'notice';
  tone: 'info' | 'success' | 'warning' | 'error';
  text: string;
  /** A second line with the detail (what to do next). */
  detail?: string;
}

export const notice = (tone: NoticeView['tone'], text: string, detail?: string): NoticeView =>
  detail === undefined ? { type: 'notice', tone, text } : { type: 'notice', tone, text, detail };
