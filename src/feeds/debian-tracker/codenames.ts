/**
 * Debian release codenames as the security tracker names them -> OSV ecosystem strings.
 * Numbers from Debian's distro-info-data (debian.csv). OSV's rule for releases without a number is
 * the series name: sid -> "Debian:sid".
 */
const DEBIAN_RELEASES: Readonly<Record<string, string>> = {
  squeeze: '6',
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
  sid: 'sid',
};

/** "bookworm" -> "Debian:12"; undefined for a codename this table does not know. */
export function debianEcosystemOf(codename: string): string | undefined {
  const release = Object.hasOwn(DEBIAN_RELEASES, codename) ? DEBIAN_RELEASES[codename] : undefined;
  return release === undefined ? undefined : `Debian:${release}`;
}
