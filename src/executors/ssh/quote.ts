/**
 * Quoting for the remote POSIX shell that sshd runs the command with. Every argument is put in
 * single quotes, where a POSIX shell gives no character a special meaning; a single quote inside
 * is written as `'\''` (close, escaped quote, reopen). NUL cannot be passed in an argument at all
 * and is refused. The login shell of the remote user must be a POSIX shell (sh, dash, bash, ash, zsh).
 */
import { ValidationError } from '../../core/errors.js';

export function quoteShellArg(arg: string): string {
  if (arg.includes('\0')) throw new ValidationError('an argument for the remote command contains a NUL byte');
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Program names: a path or a bare name, no shell metacharacters, not an option. */
export const PROGRAM_PATTERN = /^[A-Za-z0-9_./+][A-Za-z0-9_./+:-]*$/;

export interface RemoteCommandOptions {
  /** Wrap the command in `timeout -s KILL -k 1 N` so the remote side enforces the limit too. */
  remoteTimeoutSeconds?: number;
  sudo?: boolean;
}

/**
 * The command line sent to sshd: `exec [sudo -n --] [timeout -s KILL -k 1 N] 'program' 'arg'...`.
 * `exec` replaces the login shell so a signal sent over the channel reaches the command; `timeout`
 * puts the command in its own process group, forwards a TERM to it and kills the whole group.
 */
export function buildRemoteCommand(
  command: string,
  args: readonly string[],
  options: RemoteCommandOptions = {},
): string {
  if (!PROGRAM_PATTERN.test(command)) {
    throw new ValidationError(
      `invalid program name ${JSON.stringify(command.slice(0, 80))} for a remote command`,
    );
  }
  const words: string[] = ['exec'];
  if (options.sudo === true) words.push('sudo', '-n', '--');
  if (options.remoteTimeoutSeconds !== undefined) {
    const n = Math.max(1, Math.ceil(options.remoteTimeoutSeconds));
    words.push('timeout', '-s', 'KILL', '-k', '1', String(n));
  }
  words.push(quoteShellArg(command), ...args.map(quoteShellArg));
  return words.join(' ');
}
