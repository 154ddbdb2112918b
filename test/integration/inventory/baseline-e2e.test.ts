/**
 * The whole baseline end to end, through the real collectors over SSH (test sshd), the CLI
 * (`node bin/patchbot.js`), real PostgreSQL, the real Bolt client against the fake Slack Web API,
 * and the Teams card renderer:
 *
 * - fw-1 has fwupd: a stand-in `fwupdmgr` prints the real `get-devices --json` of an aarch64 VM
 *   (fwupd 1.9.24, its UEFI dbx at version 0) and the real `security --json` of this project's
 *   VM; it has no pip and no npm.
 * - app-1 has no fwupd; its interpreter's `-m pip list --format=json` prints the real pip list of a
 *   Debian 12 host (requests 2.28.1, urllib3 1.26.12); `npm` prints the real `npm ls -g`.
 * - both see a requirements file that pins Jinja2 2.10.1 (PYSEC-2021-66) under the policy's
 *   lockfile path, and a site directory with the real METADATA of Debian's cryptography 38.0.4.
 * - advisories: the real OSV PyPI records, and LVFS metadata for the dbx component written from
 *   the releases and `Issues` fwupd itself read from LVFS for that device (the same construction as
 *   test/unit/matching/baseline.test.ts), imported with `feeds sync`.
 *
 * The firmware findings are what the metadata implies with fwupd's ordering of the `number`
 * format: each CVE at its lowest fixing release above 0 (26, 22, 21), one fix to install (26).
 */
import { chmod, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackEdge } from '../../../src/bot/slack/app.js';
import { createSlackApp, SlackPoster } from '../../../src/bot/slack/index.js';
import { renderCampaign as renderTeamsCampaign } from '../../../src/bot/teams/render.js';
import { loadPolicy } from '../../../src/config/policy.js';
import type { Policy } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { parseFwupdDevices } from '../../../src/inventory/parsers/firmware/fwupd.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals } from '../../../src/usecases/approvals/index.js';
import { notifyNewlyRelevant } from '../../../src/usecases/notify.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { runCli } from '../../support/cli.js';
import { applyPolicy } from '../notify/seed.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { TEST_SIGNING_SECRET } from '../../support/slack-signing.js';
import { startSshdHosts, TEST_USER, type SshdOptions, type TestSshHost } from '../../support/sshd.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const fixture = (p: string): string => path.join(FIXTURES, p);
const CHANNEL = 'C0BASELINE1';
const logger = createLogger({ level: 'silent' });

let hosts: TestSshHost[] = [];
let pg: TempPostgres;
let tmp: TempDir;
let env: NodeJS.ProcessEnv;
let db: Database;
let repos: Repositories;
let fake: FakeSlackWebApi;
let policy: Policy;
const cli = (...args: string[]) => runCli(args, env, tmp.dir);

/** The dbx device's LVFS releases (version + Issues, as fwupd read them) as AppStream metadata. */
async function dbxMetadata(): Promise<string> {
  const devices = parseFwupdDevices(
    await readFile(fixture('firmware/fwupd/get-devices.aa64-vm.meta-package-manager.json'), 'utf8'),
  ).devices;
  const dbx = devices.find((d) => d.name === 'UEFI dbx')!;
  const releases = dbx.releases
    .map(
      (r) =>
        `<release version="${r.version}"><issues>${r.issues
          .map((i) => `<issue type="${/^CVE-/.test(i) ? 'cve' : 'microsoft'}">${i}</issue>`)
          .join('')}</issues></release>`,
    )
    .join('');
  const provides = dbx.guids.map((g) => `<firmware type="flashed">${g}</firmware>`).join('');
  return `<?xml version="1.0"?><components origin="lvfs"><component type="firmware"><id>${dbx.releases[0]?.appstreamId}</id><name>Secure Boot dbx</name><provides>${provides}</provides><releases>${releases}</releases></component></components>`;
}

/**
 * A stand-in interpreter at one path for the fleet: `-m pip list --format=json` prints the
 * pip-list.json of the host it runs on (its stand-ins directory is first in PATH), and answers as a
 * Python without pip on a host that has none.
 */
const PYTHON_STUB = [
  '#!/bin/sh',
  'if [ "$1" = "-m" ] && [ "$2" = "pip" ] && [ "$3" = "list" ]; then',
  '  list="${PATH%%:*}/pip-list.json"',
  '  if [ ! -f "$list" ]; then echo "/usr/bin/python3: No module named pip" >&2; exit 1; fi',
  '  exec cat "$list"',
  'fi',
  'echo "unexpected: $*" >&2; exit 2',
  '',
].join('\n');

beforeAll(async () => {
  tmp = await createTempDir('baseline-e2e');
  hosts = await startSshdHosts(2, {
    first: 171,
    perHost: (i): SshdOptions =>
      i === 0
        ? {
            scripts: {
              fwupdmgr: [
                '#!/bin/sh',
                'case "$1" in',
                '  get-devices) exec cat "$(dirname "$0")/get-devices.json" ;;',
                '  security) exec cat "$(dirname "$0")/security.json" ;;',
                'esac',
                'echo "unexpected: $*" >&2; exit 2',
                '',
              ].join('\n'),
              npm: '#!/bin/sh\necho "npm: command not found" >&2\nexit 127\n',
              python3: PYTHON_STUB,
            },
          }
        : {
            scripts: {
              fwupdmgr: '#!/bin/sh\necho "fwupdmgr: command not found" >&2\nexit 127\n',
              fwupdtool: '#!/bin/sh\necho "fwupdtool: command not found" >&2\nexit 127\n',
              npm: [
                '#!/bin/sh',
                'case "$1" in',
                '  prefix) echo /usr/local ;;',
                '  ls) exec cat "$(dirname "$0")/npm-ls-g.json" ;;',
                '  *) echo "unexpected: $*" >&2; exit 2 ;;',
                'esac',
                '',
              ].join('\n'),
            },
          },
  });
  const [fw, app] = hosts as [TestSshHost, TestSshHost];
  await copyFile(
    fixture('firmware/fwupd/get-devices.aa64-vm.meta-package-manager.json'),
    path.join(fw.binDir, 'get-devices.json'),
  );
  await copyFile(
    fixture('firmware/fwupd/sandbox.fwupdtool-security.json'),
    path.join(fw.binDir, 'security.json'),
  );
  await copyFile(fixture('third-party/npm-ls-g.json'), path.join(app.binDir, 'npm-ls-g.json'));
  await copyFile(
    fixture('third-party/pip-list.debian12-system-python3.json'),
    path.join(app.binDir, 'pip-list.json'),
  );

  // what both hosts see on disk: a project with a pinned requirements file, a site directory
  const srv = path.join(fw.dir, 'srv', 'app');
  await mkdir(srv, { recursive: true, mode: 0o755 });
  await writeFile(path.join(srv, 'requirements.txt'), 'Jinja2==2.10.1\nsetuptools>=40\n', { mode: 0o644 });
  const dist = path.join(fw.dir, 'site', 'python3', 'dist-packages', 'cryptography-38.0.4.dist-info');
  await mkdir(dist, { recursive: true, mode: 0o755 });
  await copyFile(fixture('third-party/cryptography-38.0.4.dist-info-METADATA'), path.join(dist, 'METADATA'));
  for (const d of [path.join(fw.dir, 'srv'), srv, path.join(fw.dir, 'site')]) await chmod(d, 0o755);

  fake = await FakeSlackWebApi.start();
  const policyPath = path.join(tmp.dir, 'patchbot.yaml');
  const hostEntry = (name: string, h: TestSshHost) => ({
    name,
    address: h.address,
    port: h.port,
    hostKey: h.hostKeyFingerprint,
    identityFile: h.privateKeyPath,
    team: 'web',
  });
  await writeFile(
    policyPath,
    stringify({
      teams: [{ name: 'web', slack: { channels: [CHANNEL] } }],
      ssh: { user: TEST_USER, connectTimeout: '5s' },
      hosts: [hostEntry('fw-1', fw), hostEntry('app-1', app)],
      inventory: {
        // one interpreter path for the fleet: each host's stand-in answers for that host
        python: [path.join(fw.binDir, 'python3')],
        sitePackages: [path.join(fw.dir, 'site')],
        lockfiles: [path.join(fw.dir, 'srv')],
      },
    }),
  );
  policy = (await loadPolicy(policyPath)).policy;
  pg = await createTempPostgres('baseline_e2e');
  env = {
    DATABASE_URL: pg.url,
    PATCHBOT_CONFIG: policyPath,
    LOG_LEVEL: 'warn',
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
  };
  expect((await cli('db', 'migrate')).code).toBe(0);
  const feeds = path.join(tmp.dir, 'feeds');
  await mkdir(feeds);
  // PYSEC-2023-74 (requests) comes later: its sync alone re-matches the host that has requests
  for (const f of ['PYSEC-2021-66.yaml', 'PYSEC-2022-43012.yaml', 'PYSEC-2023-212.yaml'])
    await copyFile(fixture(`feeds/osv/pypi/${f}`), path.join(feeds, f));
  await writeFile(path.join(feeds, 'firmware.xml'), await dbxMetadata());
  const sync = await cli('feeds', 'sync', '--from', feeds, '--quiet');
  expect(sync.code, sync.stderr + sync.stdout).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  repos = createRepositories(db);
}, 180_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await fake?.close();
  await db?.close();
  await pg?.drop();
  await tmp?.remove();
});

interface CollectJson {
  hosts: {
    host: string;
    ok: boolean;
    error?: string;
    baseline?: {
      firmwareDevices: number;
      thirdParty: number;
      sources: { source: string; status: string; detail: string }[];
    };
  }[];
}

const statusOf = (h: CollectJson['hosts'][number] | undefined, source: string) =>
  h?.baseline?.sources.find((s) => s.source === source)?.status;

describe('inventory collect: the baseline over SSH', () => {
  it('reads fwupd devices and HSI on fw-1, pip, npm and lockfiles on app-1; a missing tool is "not present"', async () => {
    const run = await cli('inventory', 'collect', '--all', '--format', 'json', '--quiet', '--no-rescan');
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as CollectJson;
    const fw = out.hosts.find((h) => h.host === 'fw-1');
    const app = out.hosts.find((h) => h.host === 'app-1');
    expect(fw?.ok, fw?.error).toBe(true);
    expect(app?.ok, app?.error).toBe(true);
    // this machine has no /sys/class/dmi/id (a VM without SMBIOS): recorded, not failed
    expect(statusOf(fw, 'dmi')).toMatch(/^(collected|not-present)$/);
    expect(statusOf(fw, 'fwupd')).toBe('collected');
    const devices = parseFwupdDevices(
      await readFile(fixture('firmware/fwupd/get-devices.aa64-vm.meta-package-manager.json'), 'utf8'),
    ).devices;
    expect(fw?.baseline?.firmwareDevices).toBe(devices.length);
    expect(statusOf(fw, 'hsi')).toBe('collected');
    expect(statusOf(fw, 'pip')).toBe('not-present');
    expect(statusOf(fw, 'npm')).toBe('not-present');
    expect(statusOf(app, 'fwupd')).toBe('not-present');
    expect(statusOf(app, 'hsi')).toBe('not-present');
    expect(statusOf(app, 'pip')).toBe('collected');
    expect(statusOf(app, 'npm')).toBe('collected');
    expect(statusOf(app, 'lockfiles')).toBe('collected');
    expect(statusOf(app, 'python-metadata')).toBe('collected');

    const stored = await repos.inventory.latest('fw-1');
    const dbx = stored?.baseline?.firmware.find((d) => d.name === 'UEFI dbx');
    expect(dbx).toMatchObject({
      version: '0',
      versionFormat: 'number',
      id: '362301da643102b9f38477387e2193e57abaa590',
    });
    expect(stored?.baseline?.hsi?.length).toBeGreaterThan(10);
    const appSnap = await repos.inventory.latest('app-1');
    const third = appSnap?.baseline?.thirdParty ?? [];
    expect(third).toContainEqual(
      expect.objectContaining({
        ecosystem: 'PyPI',
        name: 'Jinja2',
        version: '2.10.1',
        ownerKind: 'lockfile',
      }),
    );
    expect(third).toContainEqual(
      expect.objectContaining({
        ecosystem: 'PyPI',
        name: 'requests',
        version: '2.28.1',
        ownerKind: 'interpreter',
      }),
    );
    expect(third.filter((p) => p.ecosystem === 'npm').length).toBeGreaterThan(0);
    // cryptography 38.0.4 is in pip's list too on app-1: read once, from pip
    expect(third.filter((p) => p.name === 'cryptography')).toEqual([
      expect.objectContaining({ ownerKind: 'interpreter' }),
    ]);
    const fwSnap = await repos.inventory.latest('fw-1');
    expect(fwSnap?.baseline?.thirdParty.find((p) => p.name === 'cryptography')).toMatchObject({
      ownerKind: 'site-packages',
      version: '38.0.4',
    });
  }, 120_000);
});

interface ScanJson {
  summary: { byKind: Record<string, number> };
  fixes: {
    host: string;
    kind: string;
    owner: { path: string; kind: string } | null;
    sourcePackage: string;
    packages: string[];
    installedVersions: string[];
    fixedVersion: string | null;
    cves: string[];
    risk: { score: number };
  }[];
}

describe('scan, chat and report: firmware and third-party findings with their kind', () => {
  let scan: ScanJson;
  beforeAll(async () => {
    const later = path.join(tmp.dir, 'PYSEC-2023-74.yaml');
    await copyFile(fixture('feeds/osv/pypi/PYSEC-2023-74.yaml'), later);
    const sync = await cli('feeds', 'sync', '--from', later, '--quiet');
    expect(sync.code, sync.stderr + sync.stdout).toBe(0);
    // the sync re-matched app-1 (its pip has requests 2.28.1), not fw-1
    const requests = await db.prisma.finding.findMany({
      where: { packageName: 'requests', advisoryId: 'PYSEC-2023-74' },
      include: { host: { select: { name: true } } },
    });
    expect(requests.map((f) => [f.host.name, f.kind, f.ownerKind, f.fixedVersion])).toEqual([
      ['app-1', 'third_party', 'interpreter', '2.31.0'],
    ]);
    const run = await cli('scan', '--all', '--format', 'json');
    // the hosts' Debian release has no advisories loaded here: not assessed (exit 4), findings listed
    expect([0, 4], run.stderr).toContain(run.code);
    scan = JSON.parse(run.stdout) as ScanJson;
  }, 120_000);

  it('fw-1 gets the firmware fix the LVFS metadata implies: dbx 0 -> 26, carrying every CVE', () => {
    const fw = scan.fixes.filter((f) => f.kind === 'firmware');
    expect(fw.map((f) => [f.host, f.packages, f.installedVersions, f.fixedVersion])).toEqual([
      ['fw-1', ['UEFI dbx'], ['0'], '26'],
    ]);
    expect(fw[0]?.owner).toEqual({ path: '362301da643102b9f38477387e2193e57abaa590', kind: 'device' });
    expect(fw[0]?.cves).toEqual([
      'CVE-2022-21894',
      'CVE-2022-34301',
      'CVE-2022-34302',
      'CVE-2022-34303',
      'CVE-2023-28005',
    ]);
    // scored with the same model: no CVSS known here, so never 0
    expect(fw[0]?.risk.score).toBeGreaterThan(0);
  });

  it('the pinned Jinja2 of the requirements file is a third-party finding owned by the lockfile, on both hosts', () => {
    const jinja = scan.fixes.filter((f) => f.sourcePackage === 'Jinja2');
    expect(jinja.map((f) => [f.host, f.kind, f.owner?.kind, f.fixedVersion, f.cves]).sort()).toEqual([
      ['app-1', 'third-party', 'lockfile', '2.11.3', ['CVE-2020-28493']],
      ['fw-1', 'third-party', 'lockfile', '2.11.3', ['CVE-2020-28493']],
    ]);
    const requests = scan.fixes.find((f) => f.host === 'app-1' && f.sourcePackage === 'requests');
    expect(requests).toMatchObject({
      kind: 'third-party',
      fixedVersion: '2.31.0',
      owner: { kind: 'interpreter' },
    });
    expect(scan.fixes.some((f) => f.host === 'fw-1' && f.sourcePackage === 'requests')).toBe(false);
    expect(scan.summary.byKind).toMatchObject({ firmware: 1 });
    expect(scan.summary.byKind['third-party']).toBeGreaterThanOrEqual(4);
  });

  it('the text report names the kind and the owner', async () => {
    const run = await cli('scan', '--all', '--limit', '0');
    expect(run.stdout).toContain(
      '[firmware] UEFI dbx 0 -> 26 (device 362301da643102b9f38477387e2193e57abaa590',
    );
    const text = run.stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(
      /\[third-party\] Jinja2 2\.10\.1 -> 2\.11\.3 \(lockfile \/\S+\/srv\/app\/requirements\.txt: bump it/,
    );
    expect(run.stdout).toMatch(/\d+ OS, \d+ third-party, 1 firmware/);
  });

  it('chat: each kind is its own campaign, saying what patchbot does and does not do; only firmware can be requested', async () => {
    let edge: SlackEdge | undefined;
    try {
      const noHandlers = () => Promise.reject(new Error('not used'));
      edge = await createSlackApp({
        token: 'xoxb-test-token',
        signingSecret: TEST_SIGNING_SECRET,
        apiUrl: fake.apiUrl,
        logger,
        handlers: { onAction: noHandlers, onViewSubmission: noHandlers, onCommand: noHandlers },
      });
      const poster = new SlackPoster({ client: edge.client, logger });
      // the policy's chat channels, as `serve` and `worker` store them on start
      await applyPolicy(repos, policy);
      const parts = createApprovals({
        repos,
        policy,
        now: () => new Date(),
        logger,
        platforms: () => [poster],
      });
      const result = await notifyNewlyRelevant({
        repos,
        campaigns: parts.campaigns,
        campaignView: parts.campaignView,
        policy,
        platform: poster,
        now: new Date(),
        logger,
      });
      expect(result.ran).toBe(true);
      const changes = await db.prisma.changeRequest.findMany();
      const firmware = changes.find((c) => c.kind === 'firmware');
      const jinja = changes.find((c) => c.packageName === 'Jinja2');
      expect(firmware?.fixedVersion).toBe('26');
      expect(jinja?.kind).toBe('third_party');
      const posts = fake.calls.filter(
        (c) =>
          c.method === 'chat.postMessage' && c.params.channel === CHANNEL && c.params.thread_ts === undefined,
      );
      const fwPost = posts.find((p) => JSON.stringify(p.params.blocks).includes('[firmware] UEFI dbx → 26'));
      expect(fwPost, 'the firmware campaign message').toBeDefined();
      const fwBlocks = JSON.stringify(fwPost!.params.blocks);
      expect(fwBlocks).toContain('firmware cannot be rolled back by patchbot');
      expect(fwBlocks).toContain('fw-1: UEFI dbx (device 362301da643102b9f38477387e2193e57abaa590) 0');
      // firmware is rolled out like a distribution package: its rollout can be requested
      expect(fwBlocks).toContain('"action_id":"patch_request"');
      expect(fwBlocks).toContain('Request rollout');
      const jinjaPost = posts.find((p) =>
        JSON.stringify(p.params.blocks).includes('[third-party PyPI] Jinja2 → 2.11.3'),
      );
      expect(jinjaPost, 'the lockfile campaign message').toBeDefined();
      expect(JSON.stringify(jinjaPost!.params.blocks)).toContain(
        'bump Jinja2 to 2.11.3 in each lockfile listed',
      );

      // the same view as a Microsoft Teams card
      const view = await parts.campaignView(firmware!.id, new Date());
      const card = JSON.stringify(renderTeamsCampaign(view));
      expect(card).toContain('[firmware] UEFI dbx → 26');
      expect(card).toContain('firmware cannot be rolled back by patchbot');

      // deploy refuses a lockfile change, saying why; a firmware change is planned, without rollback
      const plan = await cli('deploy', 'plan', String(jinja!.number));
      expect(plan.code).not.toBe(0);
      expect(plan.stderr + plan.stdout).toContain('patchbot never deploys lockfiles');
      const fwPlan = await cli('deploy', 'plan', String(firmware!.number));
      expect(fwPlan.code, fwPlan.stderr).toBe(0);
      expect(fwPlan.stdout).toContain('fwupd: 362301da643102b9f38477387e2193e57abaa590=26');
      expect(fwPlan.stdout).toContain('warning: firmware cannot be rolled back by patchbot');
    } finally {
      await edge?.stop();
    }
  }, 120_000);

  it('report coverage counts OS, third-party and firmware findings separately', async () => {
    const run = await cli('report', 'coverage', '--format', 'json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as { metrics: { open: { byKind: Record<string, number> } } };
    const open = await db.prisma.finding.groupBy({ by: ['kind'], where: { status: 'open' }, _count: true });
    const count = (k: string) => open.find((o) => o.kind === k)?._count ?? 0;
    expect(report.metrics.open.byKind).toEqual({
      os: count('os'),
      thirdParty: count('third_party'),
      firmware: count('firmware'),
    });
    expect(report.metrics.open.byKind.firmware).toBe(3);
    const text = await cli('report', 'coverage');
    expect(text.stdout).toMatch(/by kind: OS \d+, third-party \d+, firmware 3/);
  }, 60_000);
});
