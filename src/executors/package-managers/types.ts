import type { PackageTool } from '../../core/deployments/state.js';
import type { PackageManagerKind, ThirdPartyEcosystem } from '../../core/model.js';

/** A program and its argument list: handed to an Executor as is, never joined into a shell string. */
export interface CommandSpec {
  command: string;
  args: string[];
  /**
   * Variables the command needs (DEBIAN_FRONTEND...), set with `env` before sudo; the sudoers file
   * keeps them (`env_keep`).
   */
  env?: Record<string, string>;
}

/** What a package-database check found: broken (an interrupted or half-done transaction) or not. */
export interface AuditFinding {
  broken: boolean;
  /** What the tool printed, for the host's error when broken. */
  evidence: string;
}

/**
 * How long an install waits for another package manager run (unattended-upgrades, a person) to
 * release the package database lock before giving up: part of the fixed command line.
 */
export const LOCK_WAIT_SECONDS = 600;

/** One package at one exact version (and, where the tool takes it, one architecture). */
export interface PackageTarget {
  name: string;
  version: string;
  arch?: string;
}

/** What a reboot check printed and how it exited. */
export interface RebootCheckResult {
  exitCode: number | null;
  stdout: string;
}

/**
 * Builds the commands one package manager needs during a deployment. Every method validates every
 * name, version and architecture against the strict patterns first and throws a ValidationError
 * naming the bad value before any argument list exists. Parsers never throw on host output: lines
 * that do not fit are skipped.
 */
export interface PackageManagerDriver {
  readonly tool: PackageTool;
  /** The package database and version scheme the tool works on (fwupd: firmware devices; pip, npm: the registry). */
  readonly kind: PackageManagerKind | 'fwupd' | Extract<ThirdPartyEcosystem, 'PyPI' | 'npm'>;
  /** Install (upgrade to) exactly these versions (run as root, see docs/patchbot.sudoers). */
  install(targets: readonly PackageTarget[]): CommandSpec;
  /** Go back to exactly these (older) versions (run as root). */
  rollback(targets: readonly PackageTarget[]): CommandSpec;
  /** Installed versions of these packages. */
  queryInstalled(names: readonly string[]): CommandSpec;
  /** Installed versions per name (a name can be installed for several architectures). */
  parseInstalled(stdout: string, names: readonly string[]): Map<string, string[]>;
  /** Versions of a package the configured repositories offer. */
  availableVersions(name: string): CommandSpec;
  parseAvailableVersions(stdout: string, name: string): string[];
  /**
   * A read-only check of the package database for an interrupted or half-done transaction
   * (`dpkg --audit`...), run when an install's result is unknown; undefined when the tool has none.
   */
  audit(names: readonly string[]): CommandSpec | undefined;
  /** Broken or not, from the check's result; undefined when it cannot be told (tool missing). */
  interpretAudit(
    result: { exitCode: number | null; stdout: string; stderr: string },
    names: readonly string[],
  ): AuditFinding | undefined;
  /** The command that tells whether the host needs a reboot; undefined when the tool has none. */
  rebootCheck(): CommandSpec | undefined;
  /**
   * Reboot needed? From the check's result and the packages the deployment changed. Undefined
   * when it cannot be told (the check tool is missing).
   */
  interpretRebootCheck(
    result: RebootCheckResult | undefined,
    changedPackages: readonly string[],
  ): boolean | undefined;
}
