/** PEP 440 (PyPI) version ordering, through `@renovatebot/pep440`. */
import { compare, parse, type Pep440Version } from '@renovatebot/pep440';
import { InvalidVersionError } from '../errors.js';
import type { VersionSchemeImpl } from './scheme.js';

export function parsePep440(v: string): Pep440Version {
  if (v.length > 256) throw new InvalidVersionError('pep440', v, 'longer than 256 characters');
  const parsed = parse(v);
  if (parsed === null) {
    throw new InvalidVersionError(
      'pep440',
      v,
      'not a PEP 440 version ([N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local])',
    );
  }
  return parsed;
}

export function isValidPep440(v: string): boolean {
  return v.length <= 256 && parse(v) !== null;
}

export function comparePep440(a: string, b: string): -1 | 0 | 1 {
  parsePep440(a);
  parsePep440(b);
  const r = compare(a, b);
  return r < 0 ? -1 : r > 0 ? 1 : 0;
}

export const pep440: VersionSchemeImpl = {
  name: 'pep440',
  parse: parsePep440,
  isValid: isValidPep440,
  compare: comparePep440,
};
