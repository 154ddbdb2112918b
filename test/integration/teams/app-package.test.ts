/**
 * The Teams app package (npm run teams:package): the manifest filled in and checked, the committed
 * icons (as scripts/generate-teams-icons.ts draws them) checked, and the zip read back.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import yauzl from 'yauzl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTeamsApp,
  fillManifest,
  iconProblems,
  manifestProblems,
  optionsFrom,
  type BuildOptions,
} from '../../../scripts/build-teams-app.js';
import { colorIcon, outlineIcon } from '../../../scripts/generate-teams-icons.js';
import { createTempDir, type TempDir } from '../../support/db.js';
import { APP_ID } from './support.js';

const TEAMS_APP = fileURLToPath(new URL('../../../teams-app/', import.meta.url));

function unzip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

let tmp: TempDir;
let options: BuildOptions;

beforeAll(async () => {
  tmp = await createTempDir('teams-app');
  options = await optionsFrom(
    { TEAMS_APP_ID: APP_ID.toUpperCase(), PATCHBOT_PUBLIC_URL: 'https://patchbot.example.com' },
    ['--out', path.join(tmp.dir, 'out', 'app.zip')],
  );
});
afterAll(async () => {
  await tmp?.remove();
});

describe('npm run teams:package', () => {
  it('zips a filled, valid manifest and the two icons', async () => {
    const { outFile } = await buildTeamsApp(options);
    const files = await unzip(outFile);
    expect([...files.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8')) as Record<string, unknown> & {
      bots: { botId: string; scopes: string[]; commandLists: { commands: { title: string }[] }[] }[];
    };
    expect(manifest.manifestVersion).toBe('1.17');
    expect(manifest.id).toBe(APP_ID);
    expect(manifest.bots[0].botId).toBe(APP_ID);
    expect(manifest.bots[0].scopes).toEqual(['team', 'groupChat', 'personal']);
    expect(manifest.bots[0].commandLists[0].commands.map((c) => c.title)).toContain('patch status');
    expect(manifest.validDomains).toEqual(['patchbot.example.com']);
    expect(JSON.stringify(manifest)).not.toContain('{{');
    expect(manifestProblems(manifest)).toEqual([]);
    const color = PNG.sync.read(files.get('color.png')!);
    const outline = PNG.sync.read(files.get('outline.png')!);
    expect([color.width, color.height, outline.width, outline.height]).toEqual([192, 192, 32, 32]);
  });

  it('builds the same zip from the same inputs', async () => {
    const a = await readFile((await buildTeamsApp(options)).outFile);
    const b = await readFile((await buildTeamsApp(options)).outFile);
    expect(a.equals(b)).toBe(true);
  });

  it('names every missing or malformed variable', async () => {
    await expect(optionsFrom({ PATCHBOT_PUBLIC_URL: 'http://insecure.example' }, [])).rejects.toThrow(
      /TEAMS_APP_ID: expected[\s\S]*PATCHBOT_PUBLIC_URL: expected the https URL/,
    );
  });
});

describe('checks', () => {
  it('the committed icons are what the generator draws, and pass the checks', async () => {
    const color = await readFile(path.join(TEAMS_APP, 'color.png'));
    const outline = await readFile(path.join(TEAMS_APP, 'outline.png'));
    expect(color.equals(colorIcon())).toBe(true);
    expect(outline.equals(outlineIcon())).toBe(true);
    expect(iconProblems(color, outline)).toEqual([]);
  });

  it('refuses icons of the wrong size or colour', () => {
    const outlineInColour = PNG.sync.read(outlineIcon());
    for (let i = 0; i < outlineInColour.data.length; i += 4)
      if (outlineInColour.data[i + 3] > 0) outlineInColour.data[i] = 0;
    expect(iconProblems(outlineIcon(), PNG.sync.write(outlineInColour))).toEqual([
      'color.png: expected 192x192, got 32x32',
      expect.stringMatching(/outline.png: expected only white and transparent pixels/) as string,
    ]);
    expect(iconProblems(Buffer.from('not a png'), outlineIcon())[0]).toMatch(/color.png: not a PNG/);
  });

  it('refuses a manifest with problems, naming each', async () => {
    const template = await readFile(path.join(TEAMS_APP, 'manifest.json'), 'utf8');
    const m = fillManifest(template, options) as Record<string, unknown> & {
      name: { short: string };
      bots: { commandLists: { commands: { title: string }[] }[] }[];
    };
    m.manifestVersion = '1.16';
    m.name.short = 'a name that is far too long for Teams';
    m.bots[0].commandLists[0].commands[0].title = 'x'.repeat(40);
    m.accentColor = 'blue';
    expect(manifestProblems(m)).toEqual([
      'manifestVersion: expected 1.17 or later, got 1.16',
      'name.short: 1-30 characters',
      'accentColor: expected #RRGGBB',
      `command "${'x'.repeat(40)}": title 1-32 characters`,
    ]);
    expect(manifestProblems(JSON.parse(template))).toContain(
      'placeholders not filled in: {{VERSION}}, {{TEAMS_APP_ID}}, {{PATCHBOT_PUBLIC_URL}}, {{TEAMS_APP_PRIVACY_URL}}, {{TEAMS_APP_TERMS_URL}}, {{PATCHBOT_PUBLIC_HOST}}',
    );
  });
});
