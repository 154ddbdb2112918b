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
  sudo?: boolean;
}

/**
 * The command line sent to sshd: `exec [sudo -n --] 'program' 'arg'...`. `exec` replaces the login
 * shell, so the exit status is the program's own. Nothing wraps the program: a host's sudoers rules
 * see the program's own command line, and timeouts are patchbot's (it stops waiting; it never
 * signals the remote command).
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
  words.push(quoteShellArg(command), ...args.map(quoteShellArg));
  return words.join(' ');
}
