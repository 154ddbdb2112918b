/**
 * `patchbot feeds sync [--from FILE|DIR|URL]... [--offline] [--format text|json] [--quiet]`:
 * imports advisory and enrichment feeds into the database. Progress on stderr, the summary on
 * stdout. Exit code: 0 when every source imported completely; 4 (partial) when records were
 * rejected, the bundled snapshot stood in for an official feed, an enabled feed was skipped or some
 * sources failed while others imported; 1 when no source could be read. Which sources are read is
 * documented in docs/feeds.md and src/usecases/feeds-sync.ts.
 */
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { syncFeedSources, type FeedSourceResult, type FeedSyncResult } from '../../usecases/feeds-sync.js';
import { rescanAfterSync, type RescanSummary } from '../../usecases/rescan.js';
import { withApp } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { CliExit, writeLine, type CliIo } from '../io.js';
import { createProgress } from '../progress.js';

/** Rejections listed in the text summary (JSON lists up to 1,000 per source). */
export const LISTED_REJECTIONS = 20;

interface SyncOptions {
  from: string[];
  offline?: boolean;
  format: string;
  quiet?: boolean;
  rescan: boolean;
}

function parseFormat(value: string): 'text' | 'json' {
  if (value === 'text' || value === 'json') return value;
  throw new UsageError(`--format: expected text or json, got ${JSON.stringify(value)}`);
}

const numbers = new Intl.NumberFormat('en-US');

function statusText(r: FeedSourceResult): string {
  switch (r.status) {
    case 'ok':
      if (r.origin === 'bundled')
        return r.rejectedCount > 0 ? 'bundled snapshot, with rejections' : 'bundled snapshot';
      return r.rejectedCount > 0 ? 'ok, with rejections' : 'ok';
    case 'not-modified':
      return 'not modified';
    case 'fallback':
      return 'bundled snapshot';
    case 'failed':
      return 'FAILED';
  }
}

function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

export function renderSummary(result: FeedSyncResult): string[] {
  const lines: string[] = [];
  if (result.sources.length === 0) {
    lines.push('no feed sources to sync (every source is disabled in the policy file)');
  } else {
    const n = (x: number) => numbers.format(x);
    const rows = [['source', 'read', 'new', 'changed', 'withdrawn', 'rejected', 'status']];
    for (const r of result.sources) {
      rows.push([
        r.source,
        n(r.read),
        n(r.new),
        n(r.changed),
        n(r.withdrawn),
        n(r.rejectedCount),
        statusText(r),
      ]);
    }
    const t = result.totals;
    rows.push(['total', n(t.read), n(t.new), n(t.changed), n(t.withdrawn), n(t.rejected), '']);
    lines.push(...table(rows, new Set([1, 2, 3, 4, 5])));
  }
  for (const s of result.skipped) lines.push(`skipped ${s.name}: ${s.reason}`);
  const failed = result.sources.filter((r) => r.error !== undefined);
  for (const r of failed) {
    // the error usually names the source already ("https://…: HTTP 404")
    const error = r.error ?? '';
    const what = error.startsWith(r.source) || error.startsWith(r.location) ? error : `${r.source}: ${error}`;
    lines.push(
      r.status === 'fallback'
        ? `warning: ${what} (imported the bundled snapshot ${r.fallbackLocation ?? ''} instead)`
        : `error: ${what}`,
    );
  }
  const dated = result.sources.flatMap((r) => r.feeds.map((f) => ({ ...f, source: r.source })));
  if (dated.length > 0) {
    lines.push('', 'data as of:');
    for (const f of dated)
      lines.push(`  ${f.feed.padEnd(16)} ${f.asOf.slice(0, 10)}${f.bundled ? '  bundled snapshot' : ''}`);
  }
  const rejected = result.sources.flatMap((r) => r.rejected);
  if (result.totals.rejected > 0) {
    lines.push('', 'rejected records:');
    const shown = rejected.slice(0, LISTED_REJECTIONS);
    lines.push(
      ...table(
        [['source', 'record', 'reason'], ...shown.map((x) => [x.source, x.recordId, x.reason])],
        new Set(),
      ).map((l) => `  ${l}`),
    );
    const more = result.totals.rejected - shown.length;
    if (more > 0) lines.push(`  …and ${numbers.format(more)} more`);
  }
  return lines;
}

export function rescanLine(r: RescanSummary): string {
  const n = (x: number) => numbers.format(x);
  return `re-matched ${n(r.hosts)} host${r.hosts === 1 ? '' : 's'}: ${n(r.opened)} new finding${r.opened === 1 ? '' : 's'}, ${n(r.updated)} changed, ${n(r.resolved)} fixed`;
}

export function registerFeeds(program: Command, io: CliIo): void {
  const feeds = program.command('feeds').description('Advisory and vulnerability feeds.');
  feeds
    .command('sync')
    .description(
      'Import advisories (OSV, Debian security tracker) and CVE enrichment (CISA KEV, EPSS, NVD) into ' +
        'the database. Without --from: the enabled sources of the policy file, falling back to the ' +
        'bundled snapshot for a feed that was never synced and cannot be reached. Exit code 0 when ' +
        'everything imported, 4 when something is missing (rejected records, a failed source, the ' +
        'bundled snapshot instead of a feed), 1 when nothing could be read.',
    )
    .option(
      '--from <source>',
      'a file, directory or URL (or kev, epss, debian-tracker, nvd, osv:<Ecosystem>); repeatable; ' +
        'only these are read',
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--offline', 'read the bundled snapshot of each enabled feed instead of the network')
    .option('--format <format>', 'output format: text or json', 'text')
    .option('--quiet', 'no progress output')
    .option('--no-rescan', 'do not re-match the stored hosts the sync touched')
    .action(async (opts: SyncOptions) => {
      const format = parseFormat(opts.format);
      if (opts.offline && opts.from.length > 0) {
        throw new UsageError('--offline reads the bundled snapshot: it cannot be combined with --from');
      }
      const { result, rescan } = await withApp(
        io,
        { embeddedCode: 'optimized', format },
        async ({ config, logger, repos }) => {
          const progress = createProgress(io, { label: 'feeds', quiet: opts.quiet === true });
          const started = new Date();
          try {
            const synced = await syncFeedSources({
              from: opts.from,
              policyFeeds: config.policy.feeds.sources,
              offline: opts.offline === true,
              repos,
              cwd: io.cwd,
              // record-level warnings are in the summary; the log gets them only when asked for
              ...(io.env.LOG_LEVEL ? { logger: logger.child({ name: 'feeds' }) } : {}),
              onProgress: progress.update,
              onSourceDone: (r) => {
                const note =
                  r.status === 'failed'
                    ? 'failed'
                    : r.status === 'fallback'
                      ? 'unreachable, bundled snapshot imported'
                      : r.rejectedCount > 0
                        ? `${numbers.format(r.rejectedCount)} rejected`
                        : undefined;
                progress.finish(r.source, note);
              },
            });
            const touched = synced.totals.new + synced.totals.changed + synced.totals.withdrawn > 0;
            const rematched: RescanSummary | undefined =
              opts.rescan && touched
                ? await rescanAfterSync({ repos, riskPolicy: config.policy.risk, logger }, started, {
                    onProgress: progress.update,
                  })
                : undefined;
            return { result: synced, rescan: rematched };
          } finally {
            progress.stop();
          }
        },
      );
      if (format === 'json') {
        const {
          openedIds: _o,
          updatedIds: _u,
          ...rescanCounts
        } = rescan ?? { openedIds: [], updatedIds: [] };
        writeLine(io.stdout, JSON.stringify({ ...result, rescan: rescan ? rescanCounts : null }, null, 2));
      } else {
        for (const line of renderSummary(result)) writeLine(io.stdout, line);
        if (rescan && rescan.hosts > 0) writeLine(io.stdout, rescanLine(rescan));
      }
      if (result.outcome === 'failed') throw new CliExit(EXIT.error);
      if (result.outcome === 'partial') throw new CliExit(EXIT.partial);
    });
}
