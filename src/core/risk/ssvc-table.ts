/**
 * CISA's SSVC decision tables, as data. Converted row by row (same order, same values) from the
 * CERT/CC SSVC repository (github.com/CERTCC/SSVC):
 * - CISA Coordinator v2.0.3 (namespace cisa, key DT_CO): cisa_coordinator_2_0_3.csv
 *   Exploitation v1.1.0, Automatable v2.0.0, Technical Impact v1.0.0, Mission and Well-Being
 *   Impact v1.0.0 -> CISA Levels v1.1.0 (Track, Track*, Attend, Act).
 * - CISA BOD 26-04 v1.0.0 (key DT_BOD2604): cisa_bod_26_04_1_0_0.csv
 *   In KEV, Publicly Exposed, Automatable, Technical Impact -> remediation timeline.
 * test/unit/risk/ssvc.test.ts checks every row of both CSV files (test/fixtures/risk/) against
 * the decision functions in ssvc.ts, so an edit here that drifts from CISA's table fails a test.
 */
import type { SsvcDecision, SsvcInputs } from '../model.js';

export type Exploitation = SsvcInputs['exploitation'];
export type Automatable = SsvcInputs['automatable'];
export type TechnicalImpact = SsvcInputs['technicalImpact'];
export type MissionWellbeing = SsvcInputs['missionWellbeing'];

/** [exploitation, automatable, technical impact, mission & well-being, decision] */
export type CoordinatorRow = readonly [
  Exploitation,
  Automatable,
  TechnicalImpact,
  MissionWellbeing,
  SsvcDecision,
];

export const CISA_COORDINATOR_2_0_3: readonly CoordinatorRow[] = [
  ['none', 'no', 'partial', 'low', 'Track'], // row 0
  ['none', 'no', 'partial', 'medium', 'Track'], // row 1
  ['none', 'no', 'partial', 'high', 'Track'], // row 2
  ['none', 'no', 'total', 'low', 'Track'], // row 3
  ['none', 'no', 'total', 'medium', 'Track'], // row 4
  ['none', 'no', 'total', 'high', 'Track*'], // row 5
  ['none', 'yes', 'partial', 'low', 'Track'], // row 6
  ['none', 'yes', 'partial', 'medium', 'Track'], // row 7
  ['none', 'yes', 'partial', 'high', 'Attend'], // row 8
  ['none', 'yes', 'total', 'low', 'Track'], // row 9
  ['none', 'yes', 'total', 'medium', 'Track'], // row 10
  ['none', 'yes', 'total', 'high', 'Attend'], // row 11
  ['public poc', 'no', 'partial', 'low', 'Track'], // row 12
  ['public poc', 'no', 'partial', 'medium', 'Track'], // row 13
  ['public poc', 'no', 'partial', 'high', 'Track*'], // row 14
  ['public poc', 'no', 'total', 'low', 'Track'], // row 15
  ['public poc', 'no', 'total', 'medium', 'Track*'], // row 16
  ['public poc', 'no', 'total', 'high', 'Attend'], // row 17
  ['public poc', 'yes', 'partial', 'low', 'Track'], // row 18
  ['public poc', 'yes', 'partial', 'medium', 'Track'], // row 19
  ['public poc', 'yes', 'partial', 'high', 'Attend'], // row 20
  ['public poc', 'yes', 'total', 'low', 'Track'], // row 21
  ['public poc', 'yes', 'total', 'medium', 'Track*'], // row 22
  ['public poc', 'yes', 'total', 'high', 'Attend'], // row 23
  ['active', 'no', 'partial', 'low', 'Track'], // row 24
  ['active', 'no', 'partial', 'medium', 'Track'], // row 25
  ['active', 'no', 'partial', 'high', 'Attend'], // row 26
  ['active', 'no', 'total', 'low', 'Track'], // row 27
  ['active', 'no', 'total', 'medium', 'Attend'], // row 28
  ['active', 'no', 'total', 'high', 'Act'], // row 29
  ['active', 'yes', 'partial', 'low', 'Attend'], // row 30
  ['active', 'yes', 'partial', 'medium', 'Attend'], // row 31
  ['active', 'yes', 'partial', 'high', 'Act'], // row 32
  ['active', 'yes', 'total', 'low', 'Attend'], // row 33
  ['active', 'yes', 'total', 'medium', 'Act'], // row 34
  ['active', 'yes', 'total', 'high', 'Act'], // row 35
];

export type Bod2604Timeline =
  'fix on system upgrade' | '60 days' | '14 days' | '3 days' | '3 days & forensic investigation';

/** [in KEV, publicly exposed, automatable, technical impact, remediation timeline] */
export type Bod2604Row = readonly ['yes' | 'no', 'yes' | 'no', Automatable, TechnicalImpact, Bod2604Timeline];

export const CISA_BOD_26_04_1_0_0: readonly Bod2604Row[] = [
  ['no', 'no', 'no', 'partial', 'fix on system upgrade'], // row 0
  ['yes', 'no', 'no', 'partial', '14 days'], // row 1
  ['no', 'yes', 'no', 'partial', '60 days'], // row 2
  ['no', 'no', 'yes', 'partial', '60 days'], // row 3
  ['no', 'no', 'no', 'total', 'fix on system upgrade'], // row 4
  ['yes', 'yes', 'no', 'partial', '14 days'], // row 5
  ['yes', 'no', 'yes', 'partial', '14 days'], // row 6
  ['no', 'yes', 'yes', 'partial', '14 days'], // row 7
  ['yes', 'no', 'no', 'total', '14 days'], // row 8
  ['no', 'yes', 'no', 'total', '14 days'], // row 9
  ['no', 'no', 'yes', 'total', '60 days'], // row 10
  ['yes', 'yes', 'yes', 'partial', '3 days'], // row 11
  ['yes', 'yes', 'no', 'total', '3 days & forensic investigation'], // row 12
  ['yes', 'no', 'yes', 'total', '3 days & forensic investigation'], // row 13
  ['no', 'yes', 'yes', 'total', '3 days'], // row 14
  ['yes', 'yes', 'yes', 'total', '3 days & forensic investigation'], // row 15
];
