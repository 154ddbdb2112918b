/**
 * Matching the rest of a host's baseline, on real data parsed by the real parsers:
 * - firmware: fwupd devices (a UEFI dbx of fwupd 1.9, a ColorHug2 of a Qubes dom0) against LVFS
 *   metadata (fwupd's test remote, the Dell metainfo; the dbx releases and their `Issues` as
 *   fwupd read them from LVFS, written back as the metadata they came from);
 * - third-party: pip list / poetry.lock / package-lock / npm ls of real hosts and projects
 *   against the real OSV npm and PyPI records.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  buildAdvisoryIndex,
  buildFirmwareIndex,
  createMatcher,
  matchFirmware,
} from '../../../src/core/matching/index.js';
import { matchThirdParty } from '../../../src/core/matching/third-party.js';
import type { Advisory, FirmwareDevice } from '../../../src/core/model.js';
import { parseYamlText } from '../../../src/feeds/document.js';
import { parseLvfsMetadata } from '../../../src/feeds/lvfs/parse.js';
import { parseOsvRecord } from '../../../src/feeds/osv/parse.js';
import { parseFwupdDevices } from '../../../src/inventory/parsers/firmware/fwupd.js';
import {
  parseNpmLs,
  parsePackageLock,
  parsePipList,
  parsePoetryLock,
  parseRequirementsTxt,
} from '../../../src/inventory/parsers/third-party/index.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');
const read = (p: string): string => readFileSync(path.join(FIXTURES, p), 'utf8');
const AS_OF = new Date('2026-12-07T00:00:00Z');

function devicesOf(file: string): FirmwareDevice[] {
  const r = parseFwupdDevices(read(`firmware/fwupd/${file}`));
  if (r.error !== undefined) throw new Error(r.error);
  return r.devices;
}

function lvfs(text: string): Advisory[] {
  const r = parseLvfsMetadata(text, 'test.xml', AS_OF);
  if (r.rejections.length > 0) throw new Error(JSON.stringify(r.rejections));
  return r.advisories;
}

/** The dbx device's LVFS releases (version + Issues, as fwupd 1.9.24 read them) as AppStream metadata. */
function dbxMetadata(device: FirmwareDevice): string {
  const releases = device.releases
    .map(
      (r) =>
        `<release version="${r.version}"><issues>${r.issues
          .map((i) => `<issue type="${/^CVE-/.test(i) ? 'cve' : 'microsoft'}">${i}</issue>`)
          .join('')}</issues></release>`,
    )
    .join('');
  const provides = device.guids.map((g) => `<firmware type="flashed">${g}</firmware>`).join('');
  return `<?xml version="1.0"?><components origin="lvfs"><component type="firmware"><id>${device.releases[0]?.appstreamId}</id><name>Secure Boot dbx</name><provides>${provides}</provides><releases>${releases}</releases></component></components>`;
}

describe('firmware matching', () => {
  const dbx = devicesOf('get-updates.uefi-dbx-aa64-cves.json')[0];
  const index = buildFirmwareIndex(lvfs(dbxMetadata(dbx)));

  it('gives each CVE its lowest fixing release above the installed dbx version', () => {
    expect(dbx).toMatchObject({ name: 'UEFI dbx', version: '0', versionFormat: 'number' });
    const { matches, warnings } = matchFirmware(index, [dbx]);
    expect(warnings).toEqual([]);
    expect(
      matches.map((m) => ({ fix: m.fixedVersion, cves: m.cves, issues: m.issues, from: m.installedVersion })),
    ).toEqual([
      { fix: '26', cves: ['CVE-2022-21894'], issues: ['CVE-2022-21894'], from: '0' },
      { fix: '22', cves: ['CVE-2023-28005'], issues: ['CVE-2023-28005'], from: '0' },
      {
        fix: '21',
        cves: ['CVE-2022-34303', 'CVE-2022-34302', 'CVE-2022-34301'],
        issues: ['CVE-2022-34303', 'CVE-2022-34302', 'CVE-2022-34301', '309662'],
        from: '0',
      },
    ]);
    expect(
      matches.every(
        (m) => m.updatable && m.advisoryId.startsWith('LVFS:org.linuxfoundation.dbx.aa64.firmware:'),
      ),
    ).toBe(true);
    // fwupd itself flagged every one of these releases as an upgrade for this device.
    expect(dbx.releases.every((r) => r.flags.includes('is-upgrade'))).toBe(true);
  });

  it('compares in the device format: dbx 22 is only missing release 26 ("26" > "22" as numbers)', () => {
    const at22 = { ...dbx, version: '22' };
    expect(matchFirmware(index, [at22]).matches.map((m) => [m.fixedVersion, m.cves])).toEqual([
      ['26', ['CVE-2022-21894']],
    ]);
    expect(matchFirmware(index, [{ ...dbx, version: '26' }]).matches).toEqual([]);
    // A later release that lists an issue again does not move the fix for a device below both.
    const relisted = buildFirmwareIndex(
      lvfs(dbxMetadata({ ...dbx, releases: [...dbx.releases, { ...dbx.releases[2], version: '30' }] })),
    );
    expect(matchFirmware(relisted, [dbx]).matches.map((m) => m.fixedVersion)).toEqual(['26', '22', '21']);
    expect(matchFirmware(relisted, [at22]).matches.map((m) => [m.fixedVersion, m.cves.length])).toEqual([
      ['26', 1],
      ['30', 3],
    ]);
  });

  it('matches the real ColorHug2 of a Qubes dom0 by GUID against the fwupd-tests remote (triplet order)', () => {
    const colorhug = devicesOf('get-devices.qubes-dom0-colorhug2.json').find((d) => d.name === 'ColorHug2')!;
    expect(colorhug).toMatchObject({ version: '2.0.6', versionFormat: 'triplet' });
    const metadata = read('firmware/lvfs/fwupd-tests.xml');
    // The real remote lists no issues: no finding.
    expect(matchFirmware(buildFirmwareIndex(lvfs(metadata)), [colorhug]).matches).toEqual([]);
    // With issues on its releases (added here), the lowest release above 2.0.6 is the fix.
    const withIssues = metadata
      .replace(
        /(<release version="2\.0\.7"[^>]*>)/,
        '$1<issues><issue type="cve">CVE-2099-0001</issue></issues>',
      )
      .replace(
        /(<release version="2\.0\.6"[^>]*>)/,
        '$1<issues><issue type="cve">CVE-2099-0002</issue></issues>',
      );
    const { matches } = matchFirmware(buildFirmwareIndex(lvfs(withIssues)), [colorhug]);
    expect(matches.map((m) => [m.guid, m.fixedVersion, m.cves])).toEqual([
      ['2082b5e0-7a64-478a-b1b2-e3404fab6dad', '2.0.7', ['CVE-2099-0001']],
    ]);
  });

  it('uses the metadata format over the device one, printing VersionRaw again, and reads raw release numbers', () => {
    const dell = lvfs(
      read('firmware/lvfs/dell-latitude-7390-2in1.firmware.metainfo.xml').replace(
        'version="P1.1"',
        'version="1.15.2"',
      ),
    );
    const base: FirmwareDevice = {
      id: 'a'.repeat(40),
      name: 'System Firmware',
      guids: ['6180AAAA-5529-4BBF-B4FD-65B4F788DE5B'],
      instanceIds: [],
      version: '0.1.14.1',
      versionFormat: 'quad',
      versionRaw: String(0x00010e01),
      flags: ['updatable', 'needs-reboot'],
      protocols: ['org.uefi.capsule'],
      releases: [],
    };
    const { matches } = matchFirmware(buildFirmwareIndex(dell), [base]);
    // dell-bios prints 0x00010e01 as 1.14.1, below 1.15.2.
    expect(matches.map((m) => [m.installedVersion, m.versionFormat, m.fixedVersion, m.urgency])).toEqual([
      ['1.14.1', 'dell-bios', '1.15.2', 'critical'],
    ]);
    const raw = lvfs(
      read('firmware/lvfs/dell-latitude-7390-2in1.firmware.metainfo.xml').replace(
        'version="P1.1"',
        `version="${0x00010f02}"`,
      ),
    );
    expect(matchFirmware(buildFirmwareIndex(raw), [base]).matches[0]?.fixedVersion).toBe('1.15.2');
    expect(
      matchFirmware(buildFirmwareIndex(dell), [{ ...base, versionRaw: String(0x00010f02) }]).matches,
    ).toEqual([]);
  });

  it('reports devices it cannot compare instead of calling them safe', () => {
    const noVersion: FirmwareDevice = { ...dbx, version: undefined, versionRaw: undefined };
    delete noVersion.version;
    delete noVersion.versionRaw;
    const { matches, warnings } = matchFirmware(index, [noVersion]);
    expect(matches).toEqual([]);
    expect(warnings).toEqual([
      {
        deviceId: dbx.id,
        device: 'UEFI dbx',
        message: `device UEFI dbx (${dbx.id}) reports no firmware version: 3 firmware advisories not evaluated`,
      },
    ]);
    // A device with only a raw version is compared with it, printed in its format.
    const rawOnly: FirmwareDevice = { ...noVersion, versionRaw: '21' };
    expect(matchFirmware(index, [rawOnly]).matches.map((m) => [m.installedVersion, m.fixedVersion])).toEqual([
      ['21', '26'],
      ['21', '22'],
    ]);
    // Devices no advisory names are not reported.
    expect(matchFirmware(index, devicesOf('get-devices.hp-z4-g4-workstation.json'))).toEqual({
      matches: [],
      warnings: [],
    });
  });
});

function osvAdvisories(): Advisory[] {
  const out: Advisory[] = [];
  for (const file of [
    'npm/GHSA-c2qf-rxjj-qqgw.json',
    'pypi/PYSEC-2021-66.yaml',
    'pypi/PYSEC-2022-43012.yaml',
    'pypi/PYSEC-2023-212.yaml',
    'pypi/PYSEC-2023-74.yaml',
  ]) {
    const text = read(`feeds/osv/${file}`);
    const raw = file.endsWith('.yaml') ? parseYamlText(text) : (JSON.parse(text) as unknown);
    const { advisory } = parseOsvRecord(raw, file);
    if (advisory === undefined) throw new Error(`${file} did not parse`);
    out.push(advisory);
  }
  return out;
}

describe('third-party matching (OSV npm and PyPI)', () => {
  const matcher = createMatcher(buildAdvisoryIndex(osvAdvisories()));
  const summary = (ms: ReturnType<typeof matchThirdParty>): string[] =>
    ms.map(
      (m) =>
        `${m.package.name}@${m.package.version} ${m.advisoryId} -> ${m.fixedVersion} (${m.package.owner})`,
    );

  it("finds requests and urllib3 of the system python3's pip list, with the fix per range", () => {
    const owner = { owner: '/usr/bin/python3', ownerKind: 'interpreter' as const };
    const { packages } = parsePipList(read('third-party/pip-list.debian12-system-python3.json'), owner);
    expect(summary(matchThirdParty(matcher, packages))).toEqual([
      'requests@2.28.1 PYSEC-2023-74 -> 2.31.0 (/usr/bin/python3)',
      'urllib3@1.26.12 PYSEC-2023-212 -> 1.26.18 (/usr/bin/python3)',
    ]);
  });

  it('uses the 2.x range for urllib3 2.0.2 of a poetry.lock, and leaves jinja2 3.1.2 alone', () => {
    const owner = { owner: '/srv/netbox/poetry.lock', ownerKind: 'lockfile' as const };
    const { packages } = parsePoetryLock(read('third-party/poetry.lock.netbox-ansible'), owner);
    const found = summary(matchThirdParty(matcher, packages));
    expect(found).toContain('urllib3@2.0.2 PYSEC-2023-212 -> 2.0.7 (/srv/netbox/poetry.lock)');
    expect(found).toContain('requests@2.30.0 PYSEC-2023-74 -> 2.31.0 (/srv/netbox/poetry.lock)');
    expect(found.some((f) => f.startsWith('jinja2@'))).toBe(false);
  });

  it('finds a pinned vulnerable package of a requirements file, its name compared as PEP 503 says', () => {
    const owner = { owner: '/srv/app/requirements.txt', ownerKind: 'lockfile' as const };
    const { packages, unpinned } = parseRequirementsTxt(
      'Jinja2==2.10.1\nsetuptools>=40\nurllib3==2.0.7\n',
      owner,
    );
    expect(unpinned.map((u) => u.name)).toEqual(['setuptools']);
    const ms = matchThirdParty(matcher, packages);
    expect(ms.map((m) => [m.package.name, m.advisoryId, m.cves, m.fixedVersion])).toEqual([
      ['Jinja2', 'PYSEC-2021-66', ['CVE-2020-28493'], '2.11.3'],
    ]);
  });

  it("finds semver 7.5.1 of a package-lock (v1, v2 and v3 alike) but not npm's own semver 7.8.5", () => {
    for (const v of [1, 2, 3]) {
      const owner = { owner: `/srv/web/package-lock.v${v}.json`, ownerKind: 'lockfile' as const };
      const { packages } = parsePackageLock(read(`third-party/package-lock.v${v}.json`), owner);
      expect(summary(matchThirdParty(matcher, packages))).toEqual([
        `semver@7.5.1 GHSA-c2qf-rxjj-qqgw -> 7.5.2 (/srv/web/package-lock.v${v}.json)`,
      ]);
    }
    const global = parseNpmLs(read('third-party/npm-ls-g.json'), {
      owner: '/usr/lib/node_modules',
      ownerKind: 'global-npm',
    });
    expect(matchThirdParty(matcher, global.packages)).toEqual([]);
  });

  it('orders Go, crates.io and RubyGems versions with their own rules', () => {
    const advisory = (
      ecosystem: string,
      name: string,
      events: { introduced?: string; fixed?: string }[],
    ): Advisory => ({
      id: `TEST-${ecosystem}`,
      source: 'osv',
      aliases: [],
      cves: [],
      modified: AS_OF,
      summary: 'test',
      references: [],
      severity: [],
      affected: [
        {
          ecosystem,
          package: name,
          nameKind: 'binary',
          status: 'affected',
          ranges: [
            {
              type: ecosystem === 'RubyGems' ? 'ECOSYSTEM' : 'SEMVER',
              events: events.map((e) =>
                e.fixed === undefined ? { introduced: e.introduced ?? '0' } : { fixed: e.fixed },
              ),
            },
          ],
          versions: [],
        },
      ],
    });
    const m = createMatcher(
      buildAdvisoryIndex([
        advisory('Go', 'gopkg.in/yaml.v3', [
          { introduced: '0' },
          { fixed: '3.0.0-20220521103104-8f96da9f5d5e' },
        ]),
        advisory('crates.io', 'regex', [{ introduced: '0' }, { fixed: '1.5.5' }]),
        advisory('RubyGems', 'nokogiri', [{ introduced: '0' }, { fixed: '1.13.10' }]),
      ]),
    );
    const owner = { owner: '/srv/x', ownerKind: 'lockfile' as const };
    const found = matchThirdParty(m, [
      { ecosystem: 'Go', name: 'gopkg.in/yaml.v3', version: 'v3.0.0-20200313102051-9f266ea9e77c', ...owner },
      { ecosystem: 'Go', name: 'gopkg.in/yaml.v3', version: 'v3.0.1', ...owner },
      { ecosystem: 'crates.io', name: 'regex', version: '1.5.4', ...owner },
      { ecosystem: 'RubyGems', name: 'nokogiri', version: '1.11.7', ...owner },
      { ecosystem: 'RubyGems', name: 'nokogiri', version: '1.13.10', ...owner },
    ]);
    expect(found.map((f) => `${f.package.name}@${f.package.version} -> ${f.fixedVersion}`)).toEqual([
      'gopkg.in/yaml.v3@v3.0.0-20200313102051-9f266ea9e77c -> v3.0.0-20220521103104-8f96da9f5d5e',
      'regex@1.5.4 -> 1.5.5',
      'nokogiri@1.11.7 -> 1.13.10',
    ]);
  });
});
