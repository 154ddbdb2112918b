/**
 * apk inventory: apk-tools' installed database (/lib/apk/db/installed). One block per package,
 * blocks separated by blank lines, one-letter keys: `P:` name, `V:` version, `A:` arch, `o:` origin
 * (the source package that Alpine's secdb and OSV name). Other keys (files, checksums...) are ignored.
 */
import type { InstalledPackage } from '../../core/model.js';
import { archProblem, packageNameProblem, versionProblem } from '../../core/packages/names.js';
import { showLine, splitLines, WarningList, type PackagesParseResult } from './warnings.js';

interface Block {
  line: number;
  keys: Map<string, string>;
}

const KEY_LINE = /^([A-Za-z]):(.*)$/;

export function parseApkInstalled(text: string): PackagesParseResult {
  const warnings = new WarningList();
  const blocks: Block[] = [];
  let current: Block | undefined;
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') {
      if (current !== undefined) blocks.push(current);
      current = undefined;
      return;
    }
    const m = KEY_LINE.exec(raw);
    if (m === null) {
      warnings.add(line, `not a "K:value" line: ${showLine(raw)}`);
      return;
    }
    current ??= { line, keys: new Map() };
    // F:/R:/a:/Z: repeat for every file; only the package keys matter and they appear once.
    if (!current.keys.has(m[1])) current.keys.set(m[1], m[2]);
  });
  if (current !== undefined) blocks.push(current);

  const packages: InstalledPackage[] = [];
  const seen = new Set<string>();
  for (const b of blocks) {
    const name = b.keys.get('P') ?? '';
    const version = b.keys.get('V') ?? '';
    const arch = b.keys.get('A') ?? 'noarch';
    const origin = b.keys.get('o') ?? name;
    if (name === '') {
      warnings.add(b.line, 'record without P: (package name)');
      continue;
    }
    const problem =
      packageNameProblem('apk', name) ??
      versionProblem('apk', version) ??
      archProblem(arch) ??
      (origin === name ? undefined : packageNameProblem('apk', origin));
    if (problem !== undefined) {
      warnings.add(b.line, `package ${JSON.stringify(name.slice(0, 80))}: ${problem}`);
      continue;
    }
    if (seen.has(name)) {
      warnings.add(b.line, `package ${name} listed twice; the first entry is kept`);
      continue;
    }
    seen.add(name);
    packages.push({ name, version, arch, sourceName: origin, sourceVersion: version });
  }
  return { packages, warnings: warnings.list() };
}
