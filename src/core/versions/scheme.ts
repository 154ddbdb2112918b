/** The contract every version ordering scheme implements (one module per scheme in this folder). */
import type { VersionScheme } from '../model.js';

export interface VersionSchemeImpl {
  name: VersionScheme;
  /** The scheme's parsed form; throws InvalidVersionError naming the reason when `v` is not a version. */
  parse: (v: string) => unknown;
  isValid: (v: string) => boolean;
  /** -1, 0 or 1. Throws InvalidVersionError when either side is not a version of this scheme. */
  compare: (a: string, b: string) => -1 | 0 | 1;
}
