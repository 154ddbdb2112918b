/**
 * Which feed format a file holds, decided by its content (never by its name). Pure.
 * - bytes: zip (PK\x03\x04 or an empty archive's PK\x05\x06), gzip (1f 8b), zstd (28 b5 2f fd),
 *   EPSS CSV (a `#model_version` line or the header `cve,epss,percentile`), JSON (`{` or `[`
 *   first), XML (`<` first: LVFS/AppStream firmware metadata), else text that may be YAML.
 * - parsed JSON: OSV record (id + modified + affected or withdrawn), a list of them, KEV
 *   (catalogVersion + vulnerabilities), NVD (vulnerabilities[].cve, or one object with id + metrics),
 *   Debian tracker (object of package -> issue -> { releases }).
 */

export type ByteFormat = 'zip' | 'gzip' | 'zstd' | 'epss' | 'json' | 'xml' | 'text';
export type DocumentFormat = 'osv' | 'osv-list' | 'kev' | 'nvd' | 'debian-tracker';

export function sniffBytes(head: Uint8Array): ByteFormat {
  if (
    head.length >= 4 &&
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    (head[2] === 3 || head[2] === 5) &&
    (head[3] === 4 || head[3] === 6)
  ) {
    return 'zip';
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd';
  const text = Buffer.from(head.subarray(0, 512))
    .toString('utf8')
    .replace(/^\ufeff/, '');
  if (/^#model_version:/.test(text) || /^cve,epss,percentile\r?(?:\n|$)/.test(text)) return 'epss';
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') return 'json';
  if (first === '<') return 'xml';
  return 'text';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function looksLikeOsv(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value['id'] === 'string' &&
    'modified' in value &&
    ('affected' in value || 'withdrawn' in value)
  );
}

export function detectDocument(value: unknown): DocumentFormat | undefined {
  if (Array.isArray(value)) {
    return value.length > 0 && looksLikeOsv(value[0]) ? 'osv-list' : undefined;
  }
  if (!isObject(value)) return undefined;
  if (looksLikeOsv(value)) return 'osv';
  if ('catalogVersion' in value && Array.isArray(value['vulnerabilities'])) return 'kev';
  const vulns = value['vulnerabilities'];
  if (
    Array.isArray(vulns) &&
    (vulns.length === 0 ? 'totalResults' in value : isObject(vulns[0]) && 'cve' in vulns[0])
  ) {
    return 'nvd';
  }
  if (typeof value['id'] === 'string' && isObject(value['metrics'])) return 'nvd';
  if (looksLikeTracker(value)) return 'debian-tracker';
  return undefined;
}

/** package -> issue -> { releases }: checks the first few packages. */
function looksLikeTracker(value: Record<string, unknown>): boolean {
  const packages = Object.values(value).slice(0, 5);
  if (packages.length === 0) return false;
  return packages.some((issues) => {
    if (!isObject(issues)) return false;
    const first = Object.values(issues)[0];
    return isObject(first) && 'releases' in first;
  });
}
