/**
 * Builds the Microsoft Teams app package (the zip you upload to Teams) from teams-app/:
 * manifest.json with its placeholders filled in, color.png and outline.png. Everything is checked
 * first (the manifest's required fields and limits, the icons' sizes and colours); the zip is
 * written only when nothing is wrong. See docs/teams.md.
 *
 *   TEAMS_APP_ID=<bot app id> PATCHBOT_PUBLIC_URL=https://patchbot.example.com npm run teams:package
 *
 * Variables: TEAMS_APP_ID (required, the Azure bot's Microsoft App ID), PATCHBOT_PUBLIC_URL
 * (required, https: where `patchbot serve` is reachable; shown as the app's website),
 * TEAMS_APP_PRIVACY_URL and TEAMS_APP_TERMS_URL (default: PATCHBOT_PUBLIC_URL).
 * Option: --out <file> (default dist/teams-app/patchbot-teams-app.zip).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import yazl from 'yazl';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const SCOPES = new Set(['team', 'groupChat', 'personal']);
/** Zip entries get this time, so the same inputs make the same zip. */
const FIXED_MTIME = new Date('2025-01-01T00:00:00Z');

export interface BuildOptions {
  appId: string;
  /** https URL where patchbot serve is reachable (the app's website). */
  publicUrl: string;
  privacyUrl: string;
  termsUrl: string;
  version: string;
  /** Directory with manifest.json, color.png, outline.png. */
  sourceDir: string;
  outFile: string;
}

const isHttps = (s: string) => {
  try {
    return new URL(s).protocol === 'https:';
  } catch {
    return false;
  }
};

/** The build options from the environment and arguments; every problem in one error. */
export async function optionsFrom(env: NodeJS.ProcessEnv, argv: readonly string[]): Promise<BuildOptions> {
  const problems: string[] = [];
  const appId = env.TEAMS_APP_ID ?? '';
  if (!GUID.test(appId))
    problems.push(`TEAMS_APP_ID: expected the bot's Microsoft App ID (a GUID), got ${JSON.stringify(appId)}`);
  const publicUrl = env.PATCHBOT_PUBLIC_URL ?? '';
  if (!isHttps(publicUrl))
    problems.push(
      `PATCHBOT_PUBLIC_URL: expected the https URL where patchbot serve is reachable, got ${JSON.stringify(publicUrl)}`,
    );
  const privacyUrl = env.TEAMS_APP_PRIVACY_URL || publicUrl;
  const termsUrl = env.TEAMS_APP_TERMS_URL || publicUrl;
  for (const [name, value] of [
    ['TEAMS_APP_PRIVACY_URL', privacyUrl],
    ['TEAMS_APP_TERMS_URL', termsUrl],
  ] as const)
    if (value !== publicUrl && !isHttps(value))
      problems.push(`${name}: expected an https URL, got ${JSON.stringify(value)}`);
  const i = argv.indexOf('--out');
  if (i >= 0 && argv[i + 1] === undefined) problems.push('--out needs a file name');
  const outFile = path.resolve(
    i >= 0 && argv[i + 1] ? argv[i + 1] : path.join(ROOT, 'dist/teams-app/patchbot-teams-app.zip'),
  );
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version?: string };
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return {
    appId: appId.toLowerCase(),
    publicUrl,
    privacyUrl,
    termsUrl,
    version: pkg.version ?? '0.0.0',
    sourceDir: path.join(ROOT, 'teams-app'),
    outFile,
  };
}

/** The manifest template with its {{PLACEHOLDERS}} filled in (values JSON-escaped). */
export function fillManifest(template: string, o: BuildOptions): unknown {
  const values: Record<string, string> = {
    TEAMS_APP_ID: o.appId,
    VERSION: o.version,
    PATCHBOT_PUBLIC_URL: o.publicUrl,
    PATCHBOT_PUBLIC_HOST: new URL(o.publicUrl).host,
    TEAMS_APP_PRIVACY_URL: o.privacyUrl,
    TEAMS_APP_TERMS_URL: o.termsUrl,
  };
  const filled = template.replace(/\{\{([A-Z_]+)\}\}/g, (whole, name: string) =>
    name in values ? JSON.stringify(values[name]).slice(1, -1) : whole,
  );
  return JSON.parse(filled) as unknown;
}

interface Manifest {
  manifestVersion?: unknown;
  version?: unknown;
  id?: unknown;
  developer?: Record<string, unknown>;
  name?: { short?: unknown; full?: unknown };
  description?: { short?: unknown; full?: unknown };
  icons?: { color?: unknown; outline?: unknown };
  accentColor?: unknown;
  bots?: {
    botId?: unknown;
    scopes?: unknown;
    commandLists?: { scopes?: unknown; commands?: { title?: unknown; description?: unknown }[] }[];
  }[];
  validDomains?: unknown;
}

const str = (v: unknown): v is string => typeof v === 'string' && v !== '';

/** What is wrong with a filled manifest (schema 1.17's rules for the fields patchbot uses). */
export function manifestProblems(raw: unknown): string[] {
  const p: string[] = [];
  const m = raw as Manifest;
  const left = JSON.stringify(raw).match(/\{\{[A-Z_]+\}\}/g);
  if (left) p.push(`placeholders not filled in: ${[...new Set(left)].join(', ')}`);
  const mv = typeof m.manifestVersion === 'string' ? m.manifestVersion : '';
  const [major, minor] = mv.split('.').map(Number);
  if (!(major > 1 || (major === 1 && minor >= 17)))
    p.push(`manifestVersion: expected 1.17 or later, got ${mv}`);
  if (!str(m.version) || !SEMVER.test(m.version)) p.push('version: expected MAJOR.MINOR.PATCH');
  if (!str(m.id) || !GUID.test(m.id)) p.push('id: expected a GUID');
  for (const k of ['name', 'websiteUrl', 'privacyUrl', 'termsOfUseUrl']) {
    const v = m.developer?.[k];
    if (!str(v) || (k !== 'name' && !isHttps(v)))
      p.push(`developer.${k}: expected ${k === 'name' ? 'text' : 'an https URL'}`);
  }
  if (!str(m.name?.short) || m.name.short.length > 30) p.push('name.short: 1-30 characters');
  if (m.name?.full !== undefined && (!str(m.name.full) || m.name.full.length > 100))
    p.push('name.full: at most 100 characters');
  if (!str(m.description?.short) || m.description.short.length > 80)
    p.push('description.short: 1-80 characters');
  if (!str(m.description?.full) || m.description.full.length > 4000)
    p.push('description.full: 1-4000 characters');
  if (m.icons?.color !== 'color.png' || m.icons.outline !== 'outline.png')
    p.push('icons: expected color.png and outline.png');
  if (!str(m.accentColor) || !/^#[0-9A-Fa-f]{6}$/.test(m.accentColor))
    p.push('accentColor: expected #RRGGBB');
  if (!Array.isArray(m.bots) || m.bots.length !== 1) p.push('bots: expected one bot');
  for (const b of m.bots ?? []) {
    if (!str(b.botId) || !GUID.test(b.botId)) p.push('bots[0].botId: expected the bot app id (a GUID)');
    const scopes = Array.isArray(b.scopes) ? (b.scopes as unknown[]) : [];
    if (scopes.length === 0 || !scopes.every((s) => typeof s === 'string' && SCOPES.has(s)))
      p.push('bots[0].scopes: expected team, groupChat and/or personal');
    for (const list of b.commandLists ?? []) {
      const cmds = list.commands ?? [];
      if (cmds.length === 0 || cmds.length > 10) p.push('commandLists: 1-10 commands per list');
      for (const c of cmds) {
        if (!str(c.title) || c.title.length > 32)
          p.push(`command ${JSON.stringify(c.title)}: title 1-32 characters`);
        if (!str(c.description) || c.description.length > 128)
          p.push(`command ${JSON.stringify(c.title)}: description 1-128 characters`);
      }
    }
  }
  if (
    !Array.isArray(m.validDomains) ||
    !(m.validDomains as unknown[]).every((d) => str(d) && !d.includes('/'))
  )
    p.push('validDomains: expected host names without a scheme or path');
  return p;
}

/** What is wrong with the icons: PNG, 192x192 colour; 32x32 outline in white on transparent. */
export function iconProblems(color: Buffer, outline: Buffer): string[] {
  const p: string[] = [];
  const read = (name: string, buf: Buffer): PNG | undefined => {
    try {
      return PNG.sync.read(buf);
    } catch (err) {
      p.push(`${name}: not a PNG (${(err as Error).message})`);
      return undefined;
    }
  };
  const c = read('color.png', color);
  if (c && (c.width !== 192 || c.height !== 192))
    p.push(`color.png: expected 192x192, got ${c.width}x${c.height}`);
  const o = read('outline.png', outline);
  if (o) {
    if (o.width !== 32 || o.height !== 32) p.push(`outline.png: expected 32x32, got ${o.width}x${o.height}`);
    let coloured = 0;
    let transparent = 0;
    for (let i = 0; i < o.data.length; i += 4) {
      if (o.data[i + 3] === 0) transparent++;
      else if (o.data[i] !== 255 || o.data[i + 1] !== 255 || o.data[i + 2] !== 255) coloured++;
    }
    if (coloured > 0)
      p.push(`outline.png: expected only white and transparent pixels, ${coloured} are neither`);
    if (transparent === 0) p.push('outline.png: expected a transparent background');
  }
  return p;
}

/** Checks everything and writes the zip; throws an Error listing every problem. */
export async function buildTeamsApp(o: BuildOptions): Promise<{ outFile: string; manifest: unknown }> {
  const template = await readFile(path.join(o.sourceDir, 'manifest.json'), 'utf8');
  const manifest = fillManifest(template, o);
  const color = await readFile(path.join(o.sourceDir, 'color.png'));
  const outline = await readFile(path.join(o.sourceDir, 'outline.png'));
  const problems = [...manifestProblems(manifest), ...iconProblems(color, outline)];
  if (problems.length > 0) throw new Error(`the Teams app package is not valid:\n${problems.join('\n')}`);

  await mkdir(path.dirname(o.outFile), { recursive: true });
  const zip = new yazl.ZipFile();
  zip.addBuffer(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), 'manifest.json', {
    mtime: FIXED_MTIME,
  });
  zip.addBuffer(color, 'color.png', { mtime: FIXED_MTIME });
  zip.addBuffer(outline, 'outline.png', { mtime: FIXED_MTIME });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const out = createWriteStream(o.outFile);
    out.on('close', resolve);
    out.on('error', reject);
    zip.outputStream.on('error', reject).pipe(out);
  });
  return { outFile: o.outFile, manifest };
}

async function main(): Promise<void> {
  try {
    const { outFile } = await buildTeamsApp(await optionsFrom(process.env, process.argv.slice(2)));
    process.stdout.write(
      `wrote ${outFile}\nUpload it in Teams: Apps > Manage your apps > Upload an app (docs/teams.md).\n`,
    );
  } catch (err) {
    process.stderr.write(`teams:package: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
