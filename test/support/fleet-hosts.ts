/**
 * A fleet of test hosts: one real sshd per loopback address (test/support/sshd.ts), each with its own
 * host key and its own package state behind stand-in package managers, all accepting one client key
 * (so one identity file reaches every host, as in production). patchbot logs in as the non-root
 * test user and changes packages through `sudo -n` under the documented sudoers rules only: the
 * stand-ins that change the state run as root, the reads as the test user.
 *
 * Every host has the stand-ins of every package manager; its flavor (apt, dnf, yum, zypper, apk)
 * only decides the inventory patchbot stores for it, and so the tool it deploys with.
 *
 * Per host, a state directory (`<host dir>/state`, found by the stand-ins beside their bin/) holds:
 * - `installed`: one line per package, `name<TAB>version<TAB>arch<TAB>source` (versions in the
 *   flavor's scheme: `1:3.0.7-27.el9` for rpm, `3.1.7-r1` for apk);
 * - `available`: what the "repository" offers, `name<TAB>version` (installs refuse other versions);
 * - `install.log`: one line per install or downgrade that changed the state (tests count them);
 * - `install.begun`: one line per install that reached the host (before it does anything);
 * - `runs.log`: `start <pid> <tool>` and `end <pid> <tool> <status>` for every package-manager run;
 *   `signals.log`: every signal a package-manager stand-in received (none may ever arrive);
 * - markers: `fail-install` (its content goes to stderr, exit 100), `slow-install` (seconds the
 *   install sleeps before changing anything), `unhealthy` (the `healthcheck` command exits 1;
 *   every run of it appends the boot id to `health.log`),
 *   `leave-interrupted` (the install changes the state, then leaves dpkg interrupted: `dpkg --audit`
 *   reports it, further installs refuse, as apt does), `reboot-after-install` (a successful install
 *   makes the host need a reboot: /var/run/reboot-required, `needs-restarting -r`, `zypper
 *   needs-rebooting`), `boot_id` (what /proc/sys/kernel/random/boot_id shows);
 * - `lock`: the package database lock (flock); installs wait for it as long as their command line says.
 * - `fwupd-devices.json` (hosts with `fwupdDevices`): the `fwupdmgr get-devices --json` document the
 *   `fwupdmgr` stand-in serves, each device's Version replaced by its line in `installed` (the device
 *   id as the name); `fwupdmgr install ID VERSION --assume-yes --no-reboot-check` changes that line
 *   like any install (and logs it); with the marker `stage-firmware` it stages the release
 *   (`staged`) as a UEFI capsule does, and the version changes during the next reboot. A host
 *   without the document runs the real fwupdmgr, if any.
 *
 * Reboots: the `reboot` stand-in (allowed by the sudoers rules) asks for one; the fleet then takes
 * the host's sshd and its sessions down, gives the host a new boot id, clears its reboot-required
 * marker and brings sshd back after `bootMs` on the same port with the same host key, unless the
 * host was told not to come back.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFile, chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSshd, TEST_USER, type TestSshHost } from './sshd.js';

/** Sourced by every package-manager stand-in: state, run log, signal recording. */
const PKGSTUB = `# sourced by the package-manager stand-ins
umask 022
state="$(cd "$(dirname "$0")/../state" && pwd)"
me=$(basename "$0")
echo "start $$ $me" >> "$state/runs.log"
for sig in HUP INT QUIT TERM PIPE USR1 USR2 ALRM; do
  trap "echo \\"$sig $$ $me\\" >> \\"$state/signals.log\\"; echo \\"end $$ $me signal-$sig\\" >> \\"$state/runs.log\\"; trap - EXIT; exit 1" "$sig"
done
trap 'echo "end $$ $me $?" >> "$state/runs.log"' EXIT

# take the package database lock, waiting up to $1 seconds
take_lock() {
  exec 9>>"$state/lock"
  flock -w "$1" 9 || { echo "E: Could not get lock $state/lock, it is held by another process" >&2; exit 100; }
}

# apply "name version" lines on stdin; $1 = 1 to allow downgrades (apt only checks it)
apply_specs() {
  downgrade=$1
  specs=$(cat)
  echo "$me $(echo "$specs" | tr '\\n' ' ')" >> "$state/install.begun"
  if [ -f "$state/dpkg-interrupted" ]; then
    echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." >&2
    exit 100
  fi
  if [ -f "$state/fail-install" ]; then cat "$state/fail-install" >&2; exit 100; fi
  if [ -f "$state/slow-install" ]; then sleep "$(cat "$state/slow-install")" & wait $!; fi
  echo "$specs" | while read -r name ver; do
    [ -z "$name" ] && continue
    if ! awk -F'\\t' -v n="$name" -v v="$ver" '$1 == n && $2 == v { f = 1 } END { exit !f }' "$state/available"; then
      echo "E: Version '$ver' for '$name' was not found" >&2
      exit 100
    fi
    cur=$(awk -F'\\t' -v n="$name" '$1 == n { print $2 }' "$state/installed")
    if [ "$me" = apt-get ] && [ -n "$cur" ] && [ "$downgrade" = 0 ] && dpkg --compare-versions "$cur" gt "$ver"; then
      echo "E: Packages were downgraded and -y was used without --allow-downgrades." >&2
      exit 100
    fi
  done || exit 100
  echo "$specs" | while read -r name ver; do
    [ -z "$name" ] && continue
    if awk -F'\\t' -v n="$name" '$1 == n { f = 1 } END { exit !f }' "$state/installed"; then
      awk -F'\\t' -v OFS='\\t' -v n="$name" -v v="$ver" '$1 == n { $2 = v } { print }' "$state/installed" > "$state/installed.tmp"
      mv "$state/installed.tmp" "$state/installed"
    else
      printf '%s\\t%s\\tamd64\\t%s\\n' "$name" "$ver" "$name" >> "$state/installed"
    fi
  done
  if [ "$downgrade" = 1 ]; then what=downgrade; else what=install; fi
  echo "$what $(echo "$specs" | tr '\\n' ' ')" >> "$state/install.log"
  if [ -f "$state/leave-interrupted" ]; then
    first=$(echo "$specs" | head -n 1 | cut -d' ' -f1)
    printf 'The following packages are only half configured, probably due to problems\\nconfiguring them the first time.  The configuration should be retried using\\ndpkg --configure <package> or the configure menu option in dselect:\\n %s\\n' "$first" > "$state/dpkg-interrupted"
    echo "E: Sub-process /usr/bin/dpkg returned an error code (1)" >&2
    exit 100
  fi
  [ -f "$state/reboot-after-install" ] && : > "$state/reboot-required"
  # output last: nothing above depends on anyone reading it
  echo "$specs" | while read -r name ver; do [ -n "$name" ] && echo "Setting up $name ($ver) ..."; done
  exit 0
}
`;

const DPKG_QUERY = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -f) shift 2 ;;
    *) shift ;;
  esac
done
# no names: every installed package (what inventory collection asks for)
if [ $# -eq 0 ]; then
  awk -F'\\t' '{ printf "%s\\t%s\\t%s\\t%s\\tinstall ok installed\\n", $1, $2, $3, $4 }' "$state/installed"
  exit 0
fi
rc=0
for n in "$@"; do
  line=$(awk -F'\\t' -v n="$n" '$1 == n' "$state/installed")
  if [ -z "$line" ]; then
    echo "dpkg-query: no packages found matching $n" >&2
    rc=1
    continue
  fi
  printf '%s\\n' "$line" | awk -F'\\t' '{ printf "%s\\t%s\\t%s\\t%s\\tinstall ok installed\\n", $1, $2, $3, $4 }'
done
exit $rc
`;

const DPKG = `#!/bin/sh
if [ "$1" = --audit ]; then
  . "$(dirname "$0")/pkgstub.sh"
  [ -f "$state/dpkg-interrupted" ] && cat "$state/dpkg-interrupted"
  exit 0
fi
exec /usr/bin/dpkg "$@"
`;

const APT_GET = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
cmd=""
downgrade=0
wait=0
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    install|update|remove) cmd="$1"; shift ;;
    --allow-downgrades) downgrade=1; shift ;;
    -o) case "$2" in DPkg::Lock::Timeout=*) wait=\${2#*=} ;; esac; shift 2 ;;
    *) shift ;;
  esac
done
if [ "$cmd" != install ]; then echo "E: only install is supported here" >&2; exit 100; fi
[ "$DEBIAN_FRONTEND" = noninteractive ] || { echo "E: debconf would ask on a terminal (DEBIAN_FRONTEND not set)" >&2; exit 100; }
take_lock "$wait"
for spec in "$@"; do
  name=\${spec%%=*}; ver=\${spec#*=}; name=\${name%%:*}
  echo "$name $ver"
done | apply_specs "$downgrade"
`;

const APT_CACHE = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
[ "$1" = madison ] || { echo "E: only madison is supported here" >&2; exit 100; }
shift
[ "$1" = -- ] && shift
awk -F'\\t' -v n="$1" '$1 == n { printf " %s | %s | http://deb.debian.org/debian bookworm/main amd64 Packages\\n", $1, $2 }' "$state/available"
`;

/** dnf and yum: install|downgrade -y -- name-[epoch:]version-release[.arch]... */
const DNF = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
verb=$1; shift
case "$verb" in install|downgrade) ;; *) echo "Error: only install and downgrade are supported here" >&2; exit 1 ;; esac
[ "$1" = -y ] && shift
[ "$1" = -- ] && shift
take_lock 600
for nevra in "$@"; do
  m=$(awk -F'\\t' -v s="$nevra" '{ c = $1 "-" $2; if (s == c || index(s, c ".") == 1) { print $1 " " $2; exit } }' "$state/available")
  [ -n "$m" ] || { echo "Error: No match for argument: $nevra" >&2; exit 1; }
  echo "$m"
done > "$state/.specs.$$" || exit 1
[ "$verb" = downgrade ] && d=1 || d=0
apply_specs "$d" < "$state/.specs.$$"
`;

/** rpm -q --qf FORMAT -- names: the inventory format, or patchbot's duplicate check. */
const RPM = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
fmt=""
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    --qf) fmt=$2; shift 2 ;;
    *) shift ;;
  esac
done
rc=0
for n in "$@"; do
  line=$(awk -F'\\t' -v n="$n" '$1 == n' "$state/installed")
  if [ -z "$line" ]; then echo "package $n is not installed"; rc=1; continue; fi
  printf '%s\\n' "$line" | awk -F'\\t' -v dup="$state/rpm-duplicate" -v f="$fmt" '{
    evr = $2; epoch = "(none)"; i = index(evr, ":"); if (i > 0) { epoch = substr(evr, 1, i - 1); evr = substr(evr, i + 1) }
    r = evr; sub(/^.*-/, "", r); v = substr(evr, 1, length(evr) - length(r) - 1)
    if (index(f, "%{NAME}.%{ARCH}") == 1) printf "%s.%s %s:%s-%s\\n", $1, $3, epoch, v, r
    else printf "%s\\t%s\\t%s\\t%s\\t%s\\t%s-%s-%s.src.rpm\\n", $1, epoch, v, r, $3, $4, v, r
  }'
done
exit $rc
`;

const ZYPPER = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
[ "$1" = --non-interactive ] && shift
verb=$1; shift
if [ "$verb" = needs-rebooting ]; then [ -f "$state/reboot-required" ] && exit 102; exit 0; fi
[ "$verb" = install ] || { echo "only install and needs-rebooting are supported here" >&2; exit 1; }
d=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-recommends) shift ;;
    --oldpackage) d=1; shift ;;
    *) break ;;
  esac
done
take_lock "\${ZYPP_LOCK_TIMEOUT:-0}"
for spec in "$@"; do
  name=\${spec%%=*}; ver=\${spec#*=}
  awk -F'\\t' -v n="$name" '$1 == n { f = 1 } END { exit !f }' "$state/available" || name=\${name%.*}
  echo "$name $ver"
done > "$state/.specs.$$"
apply_specs "$d" < "$state/.specs.$$"
`;

const APK = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
[ "$1" = add ] || { echo "ERROR: only add is supported here" >&2; exit 1; }
shift
wait=0
while [ $# -gt 0 ]; do
  case "$1" in
    --no-interactive) shift ;;
    --wait) wait=$2; shift 2 ;;
    *) break ;;
  esac
done
take_lock "$wait"
for spec in "$@"; do echo "\${spec%%=*} \${spec#*=}"; done > "$state/.specs.$$"
apply_specs 0 < "$state/.specs.$$"
`;

const NEEDS_RESTARTING = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
[ "$1" = -r ] || exit 2
if [ -f "$state/reboot-required" ]; then echo "Reboot is required to fully utilize these updates."; exit 1; fi
echo "No core libraries or services have been updated since boot-up."
exit 0
`;

/** Reads of the apk database and of reboot-required and boot_id see the host's state. */
const GREP = `#!/bin/sh
if [ $# -eq 3 ] && [ "$3" = /lib/apk/db/installed ]; then
  state="$(dirname "$0")/../state"
  awk -F'\\t' '{ printf "P:%s\\nV:%s\\nA:%s\\no:%s\\n\\n", $1, $2, $3, $4 }' "$state/installed" > "$state/apk-installed"
  exec /bin/grep "$1" "$2" "$state/apk-installed"
fi
exec /bin/grep "$@"
`;

const TEST = `#!/bin/sh
if [ "$1" = -e ] && [ "$2" = /var/run/reboot-required ] && [ $# -eq 2 ]; then
  [ -e "$(dirname "$0")/../state/reboot-required" ]
  exit $?
fi
exec /usr/bin/test "$@"
`;

const CAT = `#!/bin/sh
if [ "$1" = /proc/sys/kernel/random/boot_id ] && [ $# -eq 1 ] && [ -f "$(dirname "$0")/../state/boot_id" ]; then
  exec /bin/cat "$(dirname "$0")/../state/boot_id"
fi
exec /bin/cat "$@"
`;

const REBOOT = `#!/bin/sh
[ $# -eq 0 ] || { echo "reboot: no arguments expected" >&2; exit 1; }
date +%s >> "$(dirname "$0")/../state/reboot-requested"
`;

/** Prints the fwupd document with the installed versions: run by node, argv [state dir]. */
const FWUPD_DEVICES_JS = `'use strict';
const fs = require('node:fs');
const state = process.argv[2];
const doc = JSON.parse(fs.readFileSync(state + '/fwupd-devices.json', 'utf8'));
const installed = new Map(
  fs.readFileSync(state + '/installed', 'utf8').split('\\n').filter(Boolean).map((l) => l.split('\\t')),
);
for (const d of doc.Devices ?? []) if (installed.has(d.DeviceId)) d.Version = installed.get(d.DeviceId);
process.stdout.write(JSON.stringify(doc, null, 2) + '\\n');
`;

const FWUPDMGR = `#!/bin/sh
state="$(cd "$(dirname "$0")/../state" && pwd)"
if [ ! -f "$state/fwupd-devices.json" ]; then
  [ -x /usr/bin/fwupdmgr ] && exec /usr/bin/fwupdmgr "$@"
  echo "fwupdmgr: not found" >&2
  exit 127
fi
if [ $# -eq 2 ] && [ "$1" = get-devices ] && [ "$2" = --json ]; then
  exec ${JSON.stringify(process.execPath)} "$(dirname "$0")/fwupd-devices.cjs" "$state"
fi
. "$(dirname "$0")/pkgstub.sh"
if [ $# -eq 5 ] && [ "$1" = install ] && [ "$4" = --assume-yes ] && [ "$5" = --no-reboot-check ]; then
  [ "$(id -u)" = 0 ] || { echo "Failed to install: permission denied (run as root)" >&2; exit 1; }
  take_lock 60
  if [ -f "$state/stage-firmware" ]; then
    # a UEFI capsule: scheduled for the next boot; the device keeps its version until then
    awk -F'\\t' -v n="$2" -v v="$3" '$1 == n && $2 == v { f = 1 } END { exit !f }' "$state/available" || { echo "No release $3 for $2" >&2; exit 1; }
    printf '%s\\t%s\\n' "$2" "$3" > "$state/staged"
    echo "stage $2 $3 " >> "$state/install.log"
    echo "Scheduling $2 $3 for the next reboot"
    exit 0
  fi
  printf '%s %s\\n' "$2" "$3" | apply_specs 0
fi
echo "fwupdmgr stand-in: unexpected arguments: $*" >&2
exit 1
`;

const HEALTHCHECK = `#!/bin/sh
/bin/cat "$(dirname "$0")/../state/boot_id" >> "$(dirname "$0")/../state/health.log"
[ -f "$(dirname "$0")/../state/unhealthy" ] && { echo "service is down" >&2; exit 1; }
echo ok
`;

const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$(dirname "$0")/../state/systemctl.log"
`;

/**
 * Language packages: `<interpreter> -m pip` (any interpreter path ending in bin/python3) and `npm`,
 * over `pip-installed` / `npm-installed` (`name<TAB>version`) and what the index offers,
 * `pip-available` / `npm-available`. Reads (list, index versions, ls, view, prefix) run as the test
 * user; installs (root, through the sudoers rules) append `pip|npm install name==version uid=N` to
 * install.log.
 */
const LANG_APPLY = `
# apply "name version" lines on stdin to $1-installed (pip or npm), offered by $1-available
apply_lang() {
  tool=$1
  specs=$(cat)
  echo "$tool $(echo "$specs" | tr '\\n' ' ')" >> "$state/install.begun"
  if [ -f "$state/fail-install" ]; then cat "$state/fail-install" >&2; exit 1; fi
  echo "$specs" | while read -r name ver; do
    [ -z "$name" ] && continue
    if ! awk -F'\\t' -v n="$name" -v v="$ver" '$1 == n && $2 == v { f = 1 } END { exit !f }' "$state/$tool-available"; then
      echo "ERROR: No matching distribution found for $name==$ver" >&2
      exit 1
    fi
  done || exit 1
  echo "$specs" | while read -r name ver; do
    [ -z "$name" ] && continue
    awk -F'\\t' -v OFS='\\t' -v n="$name" '$1 != n { print }' "$state/$tool-installed" > "$state/$tool-installed.tmp"
    printf '%s\\t%s\\n' "$name" "$ver" >> "$state/$tool-installed.tmp"
    mv "$state/$tool-installed.tmp" "$state/$tool-installed"
    chmod 666 "$state/$tool-installed"
    echo "$tool install $name==$ver uid=$(id -u)" >> "$state/install.log"
  done
  echo "$specs" | while read -r name ver; do [ -n "$name" ] && echo "Successfully installed $name-$ver"; done
  exit 0
}
`;

const PYTHON3 = `#!/bin/sh
if [ "$1" != -m ] || [ "$2" != pip ]; then exec /usr/bin/python3 "$@"; fi
. "$(dirname "$0")/pkgstub.sh"
${LANG_APPLY}
shift 2
verb=$1; shift
case "$verb" in
  list)
    awk -F'\\t' 'BEGIN { printf "[" } { printf "%s{\\"name\\": \\"%s\\", \\"version\\": \\"%s\\"}", (NR > 1 ? ", " : ""), $1, $2 } END { print "]" }' "$state/pip-installed"
    ;;
  index)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
    name=$2
    vs=$(awk -F'\\t' -v n="$name" '$1 == n { print $2 }' "$state/pip-available" | sort -r | paste -sd, - | sed 's/,/, /g')
    [ -n "$vs" ] || { echo "ERROR: No matching distribution found for $name" >&2; exit 1; }
    echo "$name ($(echo "$vs" | cut -d, -f1))"
    echo "Available versions: $vs"
    ;;
  install)
    while [ $# -gt 0 ]; do case "$1" in --) shift; break ;; *) shift ;; esac; done
    take_lock 600
    for spec in "$@"; do echo "\${spec%%==*} \${spec#*==}"; done > "$state/.pipspecs.$$"
    apply_lang pip < "$state/.pipspecs.$$"
    ;;
  *) echo "ERROR: unknown command $verb" >&2; exit 1 ;;
esac
`;

const NPM = `#!/bin/sh
. "$(dirname "$0")/pkgstub.sh"
${LANG_APPLY}
verb=$1; shift
case "$verb" in
  prefix) echo /usr/local ;;
  ls)
    awk -F'\\t' 'BEGIN { printf "{\\"dependencies\\": {" } { printf "%s\\"%s\\": {\\"version\\": \\"%s\\"}", (NR > 1 ? ", " : ""), $1, $2 } END { print "}}" }' "$state/npm-installed"
    ;;
  view)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do shift; done
    name=$2
    awk -F'\\t' -v n="$name" 'BEGIN { printf "[" } $1 == n { printf "%s\\"%s\\"", (c++ ? ", " : ""), $2 } END { print "]" }' "$state/npm-available"
    ;;
  install)
    while [ $# -gt 0 ]; do case "$1" in --) shift; break ;; *) shift ;; esac; done
    take_lock 600
    for spec in "$@"; do echo "\${spec%@*} \${spec##*@}"; done > "$state/.npmspecs.$$"
    apply_lang npm < "$state/.npmspecs.$$"
    ;;
  *) echo "npm ERR! unknown command $verb" >&2; exit 1 ;;
esac
`;

const STUBS: Record<string, string> = {
  'pkgstub.sh': PKGSTUB,
  'dpkg-query': DPKG_QUERY,
  dpkg: DPKG,
  'apt-get': APT_GET,
  'apt-cache': APT_CACHE,
  dnf: DNF,
  yum: DNF,
  rpm: RPM,
  zypper: ZYPPER,
  apk: APK,
  'needs-restarting': NEEDS_RESTARTING,
  grep: GREP,
  test: TEST,
  cat: CAT,
  reboot: REBOOT,
  fwupdmgr: FWUPDMGR,
  'fwupd-devices.cjs': FWUPD_DEVICES_JS,
  healthcheck: HEALTHCHECK,
  systemctl: SYSTEMCTL,
  python3: PYTHON3,
  npm: NPM,
};

export type Flavor = 'apt' | 'dnf' | 'yum' | 'zypper' | 'apk';

export interface FleetPackage {
  name: string;
  version: string;
  arch?: string;
  source?: string;
}

export interface FleetHostSpec {
  name: string;
  /** The package manager patchbot finds in its inventory (default apt). */
  flavor?: Flavor;
  installed: FleetPackage[];
  /** Versions the repository offers (the installed ones are added). */
  available: { name: string; version: string }[];
  /**
   * A `fwupdmgr get-devices --json` document (a real one from test/fixtures/firmware) the fwupdmgr
   * stand-in serves; its devices' versions come from `installed` (the device id as the name).
   */
  fwupdDevices?: string;
  /** Packages pip lists for the host's `bin/python3`, and versions the index offers beside them. */
  pip?: { installed: { name: string; version: string }[]; available: { name: string; version: string }[] };
  /** Global npm packages, and versions the registry offers beside them. */
  npm?: { installed: { name: string; version: string }[]; available: { name: string; version: string }[] };
}

export interface FleetHost {
  name: string;
  flavor: Flavor;
  ssh: TestSshHost;
  stateDir: string;
  /** Back to the spec's package state; markers and logs cleared, a new boot id. */
  reset(): Promise<void>;
  installed(): Promise<Map<string, string>>;
  /** What pip or global npm has installed, by name. */
  languageInstalled(tool: 'pip' | 'npm'): Promise<Map<string, string>>;
  /** The host's pip stand-in: what `inventory.python` names for it. */
  python: string;
  /** Lines of install.log (one per install or downgrade that changed the state). */
  installLog(): Promise<string[]>;
  /** Lines of install.begun: installs that reached the host, finished or not. */
  installsBegun(): Promise<string[]>;
  /** Signals any package-manager stand-in received (none may ever arrive). */
  signals(): Promise<string[]>;
  /** Package-manager runs that started and have not ended (yet, or ever: killed). */
  unfinishedRuns(): Promise<string[]>;
  /** Reboots the fleet carried out for this host. */
  reboots(): Promise<number>;
  /** One line per run of the `healthcheck` command: the boot id the host had then. */
  healthChecks(): Promise<string[]>;
  bootId(): Promise<string>;
  setFailInstall(message: string | null): Promise<void>;
  setSlowInstall(seconds: number | null): Promise<void>;
  setUnhealthy(unhealthy: boolean): Promise<void>;
  setLeaveInterrupted(on: boolean): Promise<void>;
  setRebootAfterInstall(on: boolean): Promise<void>;
  /** `fwupdmgr install` stages the release for the next boot instead of flashing it now. */
  setStageFirmware(on: boolean): Promise<void>;
  /** A host that is rebooted does not come back (sshd stays down). */
  setNoReturn(on: boolean): void;
  /** Holds the package database lock for `ms` (another apt run); resolves once it is held. */
  holdLock(ms: number): Promise<void>;
}

export interface Fleet {
  hosts: FleetHost[];
  /** The client key every host accepts. */
  clientKeyPath: string;
  host(name: string): FleetHost;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

function uidOf(user: string): number {
  const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

async function marker(dir: string, file: string, content: string | null): Promise<void> {
  if (content === null) await rm(join(dir, file), { force: true });
  else await writeFile(join(dir, file), content, { mode: 0o666 });
}

const lines = async (file: string): Promise<string[]> =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');

const LOGS = [
  'install.log',
  'install.begun',
  'runs.log',
  'signals.log',
  'systemctl.log',
  'reboots.log',
  'health.log',
];
const MARKERS = [
  'fail-install',
  'slow-install',
  'unhealthy',
  'installed.tmp',
  'leave-interrupted',
  'dpkg-interrupted',
  'reboot-after-install',
  'reboot-required',
  'reboot-requested',
  'rpm-duplicate',
  'apk-installed',
  'stage-firmware',
  'staged',
];

/** Firmware staged by `fwupdmgr install` (marker stage-firmware) takes effect during the boot. */
async function applyStaged(stateDir: string): Promise<void> {
  const staged = await readFile(join(stateDir, 'staged'), 'utf8').catch(() => '');
  if (staged === '') return;
  const versions = new Map(
    staged
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t') as [string, string]),
  );
  const rows = (await readFile(join(stateDir, 'installed'), 'utf8')).split('\n').filter((l) => l !== '');
  const next = rows.map((l) => {
    const f = l.split('\t');
    const v = versions.get(f[0] ?? '');
    return v === undefined ? l : [f[0], v, ...f.slice(2)].join('\t');
  });
  await writeFile(join(stateDir, 'installed'), `${next.join('\n')}\n`);
  await rm(join(stateDir, 'staged'), { force: true });
}

/**
 * Starts one sshd per spec on 127.0.0.(first + i), or on `address(i)` for fleets larger than one
 * /24 (all of 127.0.0.0/8 is loopback), `parallel` at a time (default 1).
 */
export async function startFleet(
  specs: readonly FleetHostSpec[],
  options: { first?: number; bootMs?: number; address?: (index: number) => string; parallel?: number } = {},
): Promise<Fleet> {
  const first = options.first ?? 101;
  const addressOf = options.address ?? ((i: number) => `127.0.0.${first + i}`);
  const bootMs = options.bootMs ?? 1_500;
  const hosts: FleetHost[] = [];
  const watchers: NodeJS.Timeout[] = [];
  const lockHolders: ChildProcess[] = [];
  let clientKeyPath = '';
  let clientPub = '';
  try {
    const startOne = async (spec: FleetHostSpec, i: number): Promise<void> => {
      const ssh = await startSshd({ address: addressOf(i), scripts: STUBS });
      const stateDir = join(ssh.dir, 'state');
      await mkdir(stateDir, { recursive: true });
      const reset = async (): Promise<void> => {
        const rows = spec.installed.map(
          (p) => `${p.name}\t${p.version}\t${p.arch ?? 'amd64'}\t${p.source ?? p.name}\n`,
        );
        await writeFile(join(stateDir, 'installed'), rows.join(''));
        const offered = [
          ...spec.installed.map((p) => ({ name: p.name, version: p.version })),
          ...spec.available,
        ];
        await writeFile(
          join(stateDir, 'available'),
          offered.map((a) => `${a.name}\t${a.version}\n`).join(''),
        );
        for (const tool of ['pip', 'npm'] as const) {
          const lang = spec[tool] ?? { installed: [], available: [] };
          await writeFile(
            join(stateDir, `${tool}-installed`),
            lang.installed.map((p) => `${p.name}\t${p.version}\n`).join(''),
          );
          await writeFile(
            join(stateDir, `${tool}-available`),
            [...lang.installed, ...lang.available].map((p) => `${p.name}\t${p.version}\n`).join(''),
          );
        }
        for (const m of MARKERS) await rm(join(stateDir, m), { force: true });
        if (spec.fwupdDevices !== undefined) {
          await writeFile(join(stateDir, 'fwupd-devices.json'), spec.fwupdDevices, { mode: 0o644 });
        }
        for (const f of LOGS) await writeFile(join(stateDir, f), '', { mode: 0o666 });
        await writeFile(join(stateDir, 'lock'), '', { mode: 0o666 });
        await writeFile(join(stateDir, 'boot_id'), `${randomUUID()}\n`, { mode: 0o644 });
        const uid = uidOf(TEST_USER);
        await chown(stateDir, uid, uid);
        for (const f of [
          'installed',
          'available',
          'pip-installed',
          'pip-available',
          'npm-installed',
          'npm-available',
          ...LOGS,
          'lock',
        ]) {
          await chown(join(stateDir, f), uid, uid);
          await chmod(join(stateDir, f), 0o666);
        }
        await chmod(stateDir, 0o777);
        noReturn = false;
      };
      let noReturn = false;
      await reset();
      if (i === 0) {
        clientKeyPath = ssh.privateKeyPath;
        clientPub = await readFile(`${ssh.privateKeyPath}.pub`, 'utf8');
      } else {
        await writeFile(join(ssh.dir, 'authorized_keys'), clientPub, { mode: 0o644 });
      }
      // Reboots asked for by the `reboot` stand-in.
      let rebooting = false;
      const watcher = setInterval(() => {
        if (rebooting) return;
        void stat(join(stateDir, 'reboot-requested')).then(
          async () => {
            rebooting = true;
            try {
              await rm(join(stateDir, 'reboot-requested'), { force: true });
              await appendFile(join(stateDir, 'reboots.log'), `${Date.now()}\n`);
              await ssh.down();
              await writeFile(join(stateDir, 'boot_id'), `${randomUUID()}\n`);
              await applyStaged(stateDir);
              await rm(join(stateDir, 'reboot-required'), { force: true });
              await new Promise((r) => setTimeout(r, bootMs));
              if (!noReturn) await ssh.up();
            } finally {
              rebooting = false;
            }
          },
          () => undefined,
        );
      }, 100);
      watcher.unref();
      watchers.push(watcher);
      const host: FleetHost = {
        name: spec.name,
        flavor: spec.flavor ?? 'apt',
        ssh,
        stateDir,
        reset,
        python: join(ssh.dir, 'bin', 'python3'),
        async languageInstalled(tool) {
          return new Map(
            (await lines(join(stateDir, `${tool}-installed`))).map((l) => {
              const [name = '', version = ''] = l.split('\t');
              return [name, version] as const;
            }),
          );
        },
        async installed() {
          const text = await readFile(join(stateDir, 'installed'), 'utf8');
          return new Map(
            text
              .split('\n')
              .filter((l) => l !== '')
              .map((l) => {
                const [name = '', version = ''] = l.split('\t');
                return [name, version] as const;
              }),
          );
        },
        installLog: () => lines(join(stateDir, 'install.log')),
        installsBegun: () => lines(join(stateDir, 'install.begun')),
        signals: () => lines(join(stateDir, 'signals.log')),
        async unfinishedRuns() {
          const open = new Map<string, string>();
          for (const l of await lines(join(stateDir, 'runs.log'))) {
            const [what, pid = '', tool = ''] = l.split(' ');
            if (what === 'start') open.set(pid, tool);
            else if (what === 'end') open.delete(pid);
          }
          return [...open].map(([pid, tool]) => `${tool} (pid ${pid})`);
        },
        reboots: async () => (await lines(join(stateDir, 'reboots.log'))).length,
        healthChecks: () => lines(join(stateDir, 'health.log')),
        bootId: async () => (await readFile(join(stateDir, 'boot_id'), 'utf8')).trim(),
        setFailInstall: (m) => marker(stateDir, 'fail-install', m === null ? null : `${m}\n`),
        setSlowInstall: (s) => marker(stateDir, 'slow-install', s === null ? null : String(s)),
        setUnhealthy: (u) => marker(stateDir, 'unhealthy', u ? 'down\n' : null),
        setLeaveInterrupted: (on) => marker(stateDir, 'leave-interrupted', on ? '1\n' : null),
        setRebootAfterInstall: (on) => marker(stateDir, 'reboot-after-install', on ? '1\n' : null),
        setStageFirmware: (on) => marker(stateDir, 'stage-firmware', on ? '1\n' : null),
        setNoReturn(on) {
          noReturn = on;
        },
        async holdLock(ms) {
          const holder = spawn(
            'flock',
            [join(stateDir, 'lock'), 'sh', '-c', 'echo held; sleep "$1"', 'sh', String(ms / 1000)],
            {
              stdio: ['ignore', 'pipe', 'ignore'],
            },
          );
          lockHolders.push(holder);
          await new Promise<void>((resolve, reject) => {
            holder.stdout.on('data', () => resolve());
            holder.once('exit', () => reject(new Error('the lock holder ended early')));
          });
        },
      };
      hosts[i] = host;
    };
    // the first host's client key is the one every host accepts
    const [head, ...rest] = specs;
    if (head !== undefined) await startOne(head, 0);
    const parallel = Math.max(1, options.parallel ?? 1);
    for (let at = 0; at < rest.length; at += parallel)
      await Promise.all(rest.slice(at, at + parallel).map((spec, j) => startOne(spec, at + j + 1)));
  } catch (err) {
    for (const w of watchers) clearInterval(w);
    await Promise.all(hosts.filter((h) => h !== undefined).map((h) => h.ssh.stop()));
    throw err;
  }
  return {
    hosts,
    clientKeyPath,
    host(name) {
      const h = hosts.find((x) => x.name === name);
      if (!h) throw new Error(`no fleet host ${name}`);
      return h;
    },
    async reset() {
      await Promise.all(
        hosts.map(async (h) => {
          await h.ssh.up();
          await h.reset();
        }),
      );
    },
    async stop() {
      for (const w of watchers) clearInterval(w);
      for (const l of lockHolders) if (l.exitCode === null && l.signalCode === null) l.kill('SIGTERM');
      await Promise.all(hosts.map((h) => h.ssh.stop()));
    },
  };
}

/** Waits until no package-manager run is left on the fleet (a timed-out install finishing). */
export async function allRunsEnded(fleet: Fleet, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = (await Promise.all(fleet.hosts.map((h) => h.unfinishedRuns()))).flat();
    if (open.length === 0) return;
    if (Date.now() > deadline) throw new Error(`package-manager runs still open: ${open.join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
