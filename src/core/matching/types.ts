/** What matching produces. */
import type { AffectedStatus, InstalledPackage } from '../model.js';

/** A match may be shared by every host that has the same package object: treat it as read-only. */
export interface Match {
  readonly package: InstalledPackage;
  readonly advisoryId: string;
  readonly cves: readonly string[];
  readonly ecosystem: string;
  /** The version to install; null when no fix exists yet (or the distribution will not fix it). */
  readonly fixedVersion: string | null;
  readonly status: AffectedStatus;
}

export interface MatchWarning {
  /** The advisory whose data was unusable; absent when the problem is the installed version. */
  advisoryId?: string;
  package: string;
  ecosystem: string;
  message: string;
}
