/**
 * Which OSV ecosystems describe a host's distribution release, spelled as OSV spells them
 * (ossf/osv-schema ecosystems.json): "Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19",
 * "Rocky Linux:9", "AlmaLinux:9", "Red Hat:enterprise_linux:9::baseos", "openSUSE:Leap 15.5",
 * "SUSE:Linux Enterprise Server 15 SP5".
 */
import type { OsInfo } from '../model.js';

function major(versionId: string): string | undefined {
  return /^(\d+)/.exec(versionId)?.[1];
}

/** Red Hat product streams (CPE suffixes) a RHEL host of that major release installs from. */
function redHatStreams(m: string): string[] {
  const n = Number(m);
  if (n >= 8) {
    return [
      'baseos',
      'appstream',
      'crb',
      'codeready_builder',
      'highavailability',
      'resilientstorage',
      'sap',
      'sap_hana',
    ].map((stream) => `Red Hat:enterprise_linux:${m}::${stream}`);
  }
  return ['server', 'client', 'workstation', 'computenode'].map(
    (stream) => `Red Hat:enterprise_linux:${m}::${stream}`,
  );
}

/** The OSV ecosystems whose advisories apply to a host running `os`; [] when none is known. */
export function ecosystemsForOs(os: OsInfo): string[] {
  const id = os.id.toLowerCase();
  const m = major(os.versionId);
  switch (os.family === 'unknown' ? id : os.family) {
    case 'debian':
      if (m !== undefined) return [`Debian:${m}`];
      return os.codename === 'sid' ? ['Debian:sid'] : [];
    case 'ubuntu': {
      const v = /^(\d{2})\.(\d{2})/.exec(os.versionId);
      if (!v) return [];
      const release = `${v[1]}.${v[2]}`;
      // LTS releases are the April releases of even years.
      const lts = v[2] === '04' && Number(v[1]) % 2 === 0;
      return lts ? [`Ubuntu:${release}:LTS`, `Ubuntu:${release}`] : [`Ubuntu:${release}`];
    }
    case 'alpine': {
      const v = /^(\d+)\.(\d+)/.exec(os.versionId);
      return v ? [`Alpine:v${v[1]}.${v[2]}`] : [];
    }
    case 'rocky':
      return m === undefined ? [] : [`Rocky Linux:${m}`];
    case 'almalinux':
      return m === undefined ? [] : [`AlmaLinux:${m}`];
    case 'rhel':
      if (id === 'rocky') return m === undefined ? [] : [`Rocky Linux:${m}`];
      if (id === 'almalinux') return m === undefined ? [] : [`AlmaLinux:${m}`];
      return m === undefined ? [] : redHatStreams(m);
    case 'suse': {
      // OSV uses the os-release PRETTY_NAME after the vendor: "openSUSE Leap 15.5" -> "openSUSE:Leap 15.5".
      const pretty = os.prettyName ?? '';
      const open = /^openSUSE (.+)$/.exec(pretty);
      if (open) return [`openSUSE:${open[1]}`];
      const sle = /^SUSE (.+)$/.exec(pretty);
      return sle ? [`SUSE:${sle[1]}`] : [];
    }
    default:
      return [];
  }
}

/**
 * The key a registry package name is compared by, in the ecosystem's own rules: PyPI names are
 * case-insensitive with runs of `-`, `_` and `.` equal (PEP 503: `Jinja2` = `jinja2`,
 * `zope.interface` = `zope-interface`); every other ecosystem compares names as written.
 * undefined when the ecosystem needs no normalising (the caller can skip the call).
 */
export function nameNormalizer(ecosystem: string): ((name: string) => string) | undefined {
  return ecosystem === 'PyPI' ? normalizePypiName : undefined;
}

export function normalizePypiName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}
