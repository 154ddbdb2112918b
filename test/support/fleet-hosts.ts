/**
 * A fleet of Debian-like test hosts: one real sshd per loopback address (test/support/sshd.ts), each
 * with its own host key and its own package state behind stand-in package commands, all accepting
 * one client key (so one identity file reaches every host, as in production).
 *
 * Per host, a state directory (`<host dir>/state`, found by the stand-ins beside their bin/) holds:
 * - `installed`: one line per package, `name<TAB>version<TAB>arch<TAB>source`;
 * - `available`: what the "repository" offers, `name<TAB>version` (apt-cache madison prints it,
 *   apt-get install refuses other versions, as apt does);
 * - `install.log`: one line per apt-get install that changed the state (tests count them);
 * - `install.begun`: one line per apt-get install that reached the host (before it does anything);
 * - markers: `fail-install` (its content goes to stderr and apt-get exits 100), `slow-install`
 *   (seconds apt-get sleeps before changing anything), `unhealthy` (the `healthcheck` command exits 1).
 *
 * Stand-ins: `dpkg-query -W -f FMT -- names...` (prints the 5 tab-separated fields patchbot's format
 * asks for), `apt-get install [-o ...] [--allow-downgrades] -- pkg[:arch]=ver...` (refuses a downgrade
 * without --allow-downgrades, using the real `dpkg --compare-versions`), `apt-cache madison -- name`,
 * `healthcheck`, and `systemctl` (logs instead of acting, so nothing can reboot this machine).
 */
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSshd, TEST_USER, type TestSshHost } from './sshd.js';

const DPKG_QUERY = `#!/bin/sh
state="$(dirname "$0")/../state"
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -f) shift 2 ;;
    *) shift ;;
  esac
done
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

const APT_GET = `#!/bin/sh
state="$(dirname "$0")/../state"
cmd=""
downgrade=0
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    install|update|remove) cmd="$1"; shift ;;
    --allow-downgrades) downgrade=1; shift ;;
    -o) shift 2 ;;
    *) shift ;;
  esac
done
if [ "$cmd" != install ]; then echo "E: only install is supported here" >&2; exit 100; fi
echo "$*" >> "$state/install.begun"
if [ -f "$state/fail-install" ]; then cat "$state/fail-install" >&2; exit 100; fi
if [ -f "$state/slow-install" ]; then sleep "$(cat "$state/slow-install")"; fi
for spec in "$@"; do
  name=\${spec%%=*}; ver=\${spec#*=}; name=\${name%%:*}
  if ! awk -F'\\t' -v n="$name" -v v="$ver" '$1 == n && $2 == v { f = 1 } END { exit !f }' "$state/available"; then
    echo "E: Version '$ver' for '$name' was not found" >&2
    exit 100
  fi
  cur=$(awk -F'\\t' -v n="$name" '$1 == n { print $2 }' "$state/installed")
  if [ -n "$cur" ] && [ "$downgrade" = 0 ] && dpkg --compare-versions "$cur" gt "$ver"; then
    echo "E: Packages were downgraded and -y was used without --allow-downgrades." >&2
    exit 100
  fi
done
for spec in "$@"; do
  name=\${spec%%=*}; ver=\${spec#*=}; name=\${name%%:*}
  awk -F'\\t' -v OFS='\\t' -v n="$name" -v v="$ver" '$1 == n { $2 = v } { print }' "$state/installed" > "$state/installed.tmp"
  mv "$state/installed.tmp" "$state/installed"
done
if [ "$downgrade" = 1 ]; then what=downgrade; else what=install; fi
echo "$what $*" >> "$state/install.log"
# output last: a client gone by now (SIGPIPE) must not cut the bookkeeping above short
for spec in "$@"; do echo "Setting up $spec ..."; done
`;

const APT_CACHE = `#!/bin/sh
state="$(dirname "$0")/../state"
[ "$1" = madison ] || { echo "E: only madison is supported here" >&2; exit 100; }
shift
[ "$1" = -- ] && shift
awk -F'\\t' -v n="$1" '$1 == n { printf " %s | %s | http://deb.debian.org/debian bookworm/main amd64 Packages\\n", $1, $2 }' "$state/available"
`;

const HEALTHCHECK = `#!/bin/sh
[ -f "$(dirname "$0")/../state/unhealthy" ] && { echo "service is down" >&2; exit 1; }
echo ok
`;

const SYSTEMCTL = `#!/bin/sh
echo "systemctl $*" >> "$(dirname "$0")/../state/systemctl.log"
`;

export interface FleetPackage {
  name: string;
  version: string;
  arch?: string;
  source?: string;
}

export interface FleetHostSpec {
  name: string;
  installed: FleetPackage[];
  /** Versions the repository offers (the installed ones are added). */
  available: { name: string; version: string }[];
}

export interface FleetHost {
  name: string;
  ssh: TestSshHost;
  stateDir: string;
  /** Back to the spec's package state; markers and the install log cleared. */
  reset(): Promise<void>;
  installed(): Promise<Map<string, string>>;
  /** Lines of install.log (one per apt-get install or downgrade that changed the state). */
  installLog(): Promise<string[]>;
  /** Lines of install.begun: apt-get installs that reached the host, finished or not. */
  installsBegun(): Promise<string[]>;
  setFailInstall(message: string | null): Promise<void>;
  setSlowInstall(seconds: number | null): Promise<void>;
  setUnhealthy(unhealthy: boolean): Promise<void>;
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

/** Starts one sshd per spec on 127.0.0.(first + i). */
export async function startFleet(
  specs: readonly FleetHostSpec[],
  options: { first?: number } = {},
): Promise<Fleet> {
  const first = options.first ?? 101;
  const hosts: FleetHost[] = [];
  let clientKeyPath = '';
  let clientPub = '';
  try {
    for (const [i, spec] of specs.entries()) {
      const ssh = await startSshd({
        address: `127.0.0.${first + i}`,
        scripts: {
          'dpkg-query': DPKG_QUERY,
          'apt-get': APT_GET,
          'apt-cache': APT_CACHE,
          healthcheck: HEALTHCHECK,
          systemctl: SYSTEMCTL,
        },
      });
      const stateDir = join(ssh.dir, 'state');
      await mkdir(stateDir, { recursive: true });
      const reset = async (): Promise<void> => {
        const lines = spec.installed.map(
          (p) => `${p.name}\t${p.version}\t${p.arch ?? 'amd64'}\t${p.source ?? p.name}\n`,
        );
        await writeFile(join(stateDir, 'installed'), lines.join(''));
        const offered = [
          ...spec.installed.map((p) => ({ name: p.name, version: p.version })),
          ...spec.available,
        ];
        await writeFile(
          join(stateDir, 'available'),
          offered.map((a) => `${a.name}\t${a.version}\n`).join(''),
        );
        await writeFile(join(stateDir, 'install.log'), '');
        for (const m of ['fail-install', 'slow-install', 'unhealthy', 'installed.tmp', 'install.begun']) {
          await rm(join(stateDir, m), { force: true });
        }
        const uid = uidOf(TEST_USER);
        await chown(stateDir, uid, uid);
        for (const f of ['installed', 'available', 'install.log']) await chown(join(stateDir, f), uid, uid);
        await chmod(stateDir, 0o777);
      };
      await reset();
      if (i === 0) {
        clientKeyPath = ssh.privateKeyPath;
        clientPub = await readFile(`${ssh.privateKeyPath}.pub`, 'utf8');
      } else {
        await writeFile(join(ssh.dir, 'authorized_keys'), clientPub, { mode: 0o644 });
      }
      const host: FleetHost = {
        name: spec.name,
        ssh,
        stateDir,
        reset,
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
        async installLog() {
          return (await readFile(join(stateDir, 'install.log'), 'utf8')).split('\n').filter((l) => l !== '');
        },
        async installsBegun() {
          const text = await readFile(join(stateDir, 'install.begun'), 'utf8').catch(() => '');
          return text.split('\n').filter((l) => l !== '');
        },
        setFailInstall: (m) => marker(stateDir, 'fail-install', m === null ? null : `${m}\n`),
        setSlowInstall: (s) => marker(stateDir, 'slow-install', s === null ? null : String(s)),
        setUnhealthy: (u) => marker(stateDir, 'unhealthy', u ? 'down\n' : null),
      };
      hosts.push(host);
    }
  } catch (err) {
    await Promise.all(hosts.map((h) => h.ssh.stop()));
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
      await Promise.all(hosts.map((h) => h.reset()));
    },
    async stop() {
      await Promise.all(hosts.map((h) => h.ssh.stop()));
    },
  };
}
