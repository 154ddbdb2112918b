/** `uname -r` output: one kernel release such as `6.1.0-25-amd64` or `5.14.0-427.13.1.el9_4.x86_64`. */
import { showLine, splitLines, type ParseWarning } from './warnings.js';

export const KERNEL_RELEASE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+~-]{0,199}$/;

export interface KernelResult {
  kernel?: string;
  warnings: ParseWarning[];
}

export function parseKernelRelease(text: string): KernelResult {
  const lines = splitLines(text).filter((l) => l.trim() !== '');
  if (lines.length !== 1) {
    return { warnings: [{ line: 0, reason: `expected one line from uname -r, got ${lines.length}` }] };
  }
  const kernel = lines[0].trim();
  if (!KERNEL_RELEASE_PATTERN.test(kernel)) {
    return { warnings: [{ line: 1, reason: `invalid kernel release ${showLine(kernel)}` }] };
  }
  return { kernel, warnings: [] };
}
