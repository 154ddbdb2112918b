import type { Severity } from './common.js';

/** A burst of newly relevant fixes posted as one message instead of one per fix. */
export interface SummaryView {
  type: 'summary';
  team?: string;
  /** New fix campaigns in this burst. */
  newFixes: number;
  /** Distinct packages they cover. */
  packages: number;
  /** Host x package x advisory findings behind them, when known. */
  findings?: number;
  /** Highest risk first; renderers show at most `SUMMARY_TOP`. */
  top: {
    changeId: string;
    changeNumber?: number;
    package: string;
    fixedVersion: string;
    score: number;
    band: Severity;
    kev: boolean;
    hostCount: number;
  }[];
  /** Where to look for the rest, e.g. "/patch status". */
  statusCommand: string;
  asOf: Date;
}

export const SUMMARY_TOP = 10;
