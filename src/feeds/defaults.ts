/**
 * Official feed locations, in one place. `resolveSourceSpec` also turns the short names accepted on
 * the command line (`kev`, `epss`, `debian-tracker`, `nvd`, `lvfs`, `osv:Debian`) into these URLs.
 */

export const DEFAULT_FEED_URLS = {
  /** CISA KEV catalog (JSON). */
  kev: 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json',
  /** FIRST EPSS daily scores, gzip'd CSV; redirects to the dated file (epss_scores-YYYY-MM-DD.csv.gz). */
  epss: 'https://epss.empiricalsecurity.com/epss_scores-current.csv.gz',
  /** Debian security tracker, every source package x issue x release (JSON, ~80 MB). */
  debianTracker: 'https://security-tracker.debian.org/tracker/data/json',
  /** NVD CVE API 2.0; incremental with lastModStartDate/lastModEndDate (at most 120 days apart). */
  nvd: 'https://services.nvd.nist.gov/rest/json/cves/2.0',
  /** LVFS firmware metadata (AppStream XML, zstd), the `lvfs` remote fwupd itself reads. */
  lvfs: 'https://cdn.fwupd.org/downloads/firmware.xml.zst',
  /** OSV's per-ecosystem export. */
  osvBucket: 'https://osv-vulnerabilities.storage.googleapis.com',
} as const;

/** OSV's archive of every record of one ecosystem ("Debian", "Ubuntu", "Alpine", "Rocky Linux"...). */
export function osvEcosystemZipUrl(ecosystem: string): string {
  return `${DEFAULT_FEED_URLS.osvBucket}/${encodeURIComponent(ecosystem)}/all.zip`;
}

/** The feeds `patchbot feeds sync` reads when it is given no source. */
export const DEFAULT_SOURCES: readonly string[] = [
  DEFAULT_FEED_URLS.debianTracker,
  osvEcosystemZipUrl('Debian'),
  DEFAULT_FEED_URLS.kev,
  DEFAULT_FEED_URLS.epss,
];

const SHORT_NAMES: Readonly<Record<string, string>> = {
  kev: DEFAULT_FEED_URLS.kev,
  epss: DEFAULT_FEED_URLS.epss,
  'debian-tracker': DEFAULT_FEED_URLS.debianTracker,
  nvd: DEFAULT_FEED_URLS.nvd,
  lvfs: DEFAULT_FEED_URLS.lvfs,
};

/** A short feed name -> its official URL; anything else (a path or a URL) is returned unchanged. */
export function resolveSourceSpec(spec: string): string {
  const short = Object.hasOwn(SHORT_NAMES, spec) ? SHORT_NAMES[spec] : undefined;
  if (short !== undefined) return short;
  const osv = /^osv:(.+)$/.exec(spec);
  if (osv?.[1] !== undefined) return osvEcosystemZipUrl(osv[1]);
  return spec;
}

/** Whether a URL is the NVD CVE API (read page by page with a cursor rather than downloaded whole). */
export function isNvdApiUrl(url: URL): boolean {
  return /\/rest\/json\/cves\/2\.0\/?$/.test(url.pathname);
}
