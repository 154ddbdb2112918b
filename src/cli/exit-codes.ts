/**
 * The exit codes of every `patchbot` command (README, "Exit codes"). A script or a CI gate can rely
 * on them: partial success is never 0, and `--format json` carries the same facts as the text.
 */
export const EXIT = {
  /** Everything asked for was done. */
  ok: 0,
  /** An error: nothing (or nothing useful) was done. */
  error: 1,
  /** Bad usage: an unknown option, options that do not go together, a value an option does not take. */
  usage: 2,
  /** `--fail-on BAND`: a finding at that band or above was found. */
  threshold: 3,
  /** Partial: some hosts skipped or unreachable, some records rejected, a digest not posted. */
  partial: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
