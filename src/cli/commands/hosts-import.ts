/**
 * `patchbot hosts import --known-hosts FILE [HOST...] | --ansible FILE`: a fleet onboarded from the
 * files people already keep. known_hosts brings the keys it trusts (pinned); an Ansible inventory
 * brings hosts, groups (as labels) and ansible_host/port/user. `--dry-run` shows the plan only.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { Name, UnixUser } from '../../config/values.js';
import { PatchbotError, UsageError, ValidationError } from '../../core/errors.js';
import { parseAnsibleInventory } from '../../inventory/sources/ansible.js';
import { parseKnownHosts } from '../../inventory/sources/known-hosts.js';
import {
  applyImport,
  describeKey,
  hostsFromAnsible,
  hostsFromKnownHosts,
  parseWantedHost,
  planImport,
  type ImportDefaults,
  type ImportPlanEntry,
  type ImportSource,
} from '../../usecases/host-import.js';
import { checkHostReferences } from '../../usecases/hosts.js';
import { withApp } from '../context.js';
import { CliExit, writeLine, type CliIo } from '../io.js';
import {
  asUsage,
  check,
  cliActor,
  collect,
  defaultEnvironment,
  identityFileFlag,
  intFlag,
  parseLabels,
  policyFileRef,
  printTable,
  syncHostsFromPolicy,
} from './hosts-common.js';

const MAX_FILE_BYTES = 32 * 1024 * 1024;

interface ImportOptions {
  knownHosts?: string;
  ansible?: string;
  groupLabelPrefix: string;
  port?: string;
  user?: string;
  identityFile?: string;
  env?: string;
  criticality?: string;
  team?: string;
  label: string[];
  update?: boolean;
  dryRun?: boolean;
  format: string;
}

async function readInput(io: CliIo, file: string, flag: string): Promise<string> {
  const absolute = path.resolve(io.cwd, file);
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new ValidationError(`${flag}: ${file} is not a file`);
    if (info.size > MAX_FILE_BYTES) throw new ValidationError(`${flag}: ${file} is larger than 32 MiB`);
    return await readFile(absolute, 'utf8');
  } catch (err) {
    if (err instanceof PatchbotError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ValidationError(
      `${flag}: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`,
    );
  }
}

function actionText(e: ImportPlanEntry): { action: string; detail: string } {
  const a = e.action;
  switch (a.type) {
    case 'add': {
      const keys = a.input.hostKeys ?? [];
      return {
        action: a.restored ? 'add (was retired)' : 'add',
        detail:
          keys.length === 0
            ? 'no key pinned'
            : keys.map((k) => describeKey({ sha256: k.sha256, type: k.type ?? null })).join(', '),
      };
    }
    case 'update':
      return { action: 'update', detail: a.fields.join(', ') };
    case 'pin':
      return { action: 'pin', detail: a.added.map(describeKey).join(', ') };
    case 'unchanged':
      return { action: 'unchanged', detail: a.reason };
    case 'skip':
      return { action: 'skip', detail: a.reason };
  }
}

async function runImport(io: CliIo, hostArgs: string[], o: ImportOptions): Promise<void> {
  if ((o.knownHosts === undefined) === (o.ansible === undefined))
    throw new UsageError('give one of --known-hosts FILE or --ansible FILE');
  if (o.ansible !== undefined && hostArgs.length > 0)
    throw new UsageError(
      'host names are for --known-hosts (to find hashed entries); --ansible imports the whole inventory',
    );
  if (o.format !== 'text' && o.format !== 'json')
    throw new UsageError(`--format: expected text or json, got ${JSON.stringify(o.format)}`);
  const wanted = hostArgs.map((h) => {
    const w = parseWantedHost(h);
    if (w === undefined)
      throw new UsageError(`HOST: expected a host name or [host]:port, got ${JSON.stringify(h)}`);
    return w;
  });
  if (o.groupLabelPrefix !== '' && !/^[A-Za-z0-9][A-Za-z0-9._/-]{0,30}$/.test(o.groupLabelPrefix))
    throw new UsageError(
      `--group-label-prefix: expected letters, digits, ".", "_", "-", "/", got ${JSON.stringify(o.groupLabelPrefix)}`,
    );
  const labels = parseLabels(o.label);
  const team = o.team === undefined ? undefined : check(Name, o.team, '--team');
  const envName = o.env === undefined ? undefined : check(Name, o.env, '--env');
  const criticality =
    o.criticality === undefined
      ? undefined
      : (intFlag(o.criticality, '--criticality', 1, 4, '1 (most critical) to 4 (least)') as 1 | 2 | 3 | 4);
  const portFlag =
    o.port === undefined ? undefined : intFlag(o.port, '--port', 1, 65535, 'a port number 1-65535');
  const user = o.user === undefined ? undefined : check(UnixUser, o.user, '--user');
  const identityFile = o.identityFile === undefined ? undefined : await identityFileFlag(o.identityFile, io);

  const file = (o.knownHosts ?? o.ansible) as string;
  const flag = o.knownHosts !== undefined ? '--known-hosts' : '--ansible';
  const text = await readInput(io, file, flag);
  let source: ImportSource;
  if (o.knownHosts !== undefined) {
    source = hostsFromKnownHosts(parseKnownHosts(text), file, wanted.length > 0 ? wanted : undefined);
  } else {
    source = hostsFromAnsible(parseAnsibleInventory(text, file), file, {
      groupLabelPrefix: o.groupLabelPrefix,
      baseDir: path.dirname(path.resolve(io.cwd, file)),
    });
  }

  await withApp(io, { format: o.format }, async (app) => {
    const { policy } = app.config;
    const ref = policyFileRef(app);
    const environment = envName ?? defaultEnvironment(policy.environments);
    asUsage(() =>
      checkHostReferences(policy, { team, environment }, ref, { team: '--team', environment: '--env' }),
    );
    await syncHostsFromPolicy(app, io);
    const defaults: ImportDefaults = {
      port: portFlag ?? policy.ssh.port,
      ...(user !== undefined ? { sshUser: user } : {}),
      ...(identityFile !== undefined ? { identityFile } : {}),
      environment,
      ...(criticality !== undefined ? { criticality } : {}),
      ...(team !== undefined ? { team } : {}),
      labels,
    };
    const plan = await planImport(app.repos, source.candidates, {
      defaults,
      policyFile: ref,
      update: o.update === true,
    });
    const outcomes =
      o.dryRun === true
        ? plan.map((entry) => ({ entry, ok: true, error: undefined }))
        : await applyImport(app.repos, plan, {
            actor: cliActor(io),
            policy,
            policyFile: ref,
            importedFrom: `${o.knownHosts !== undefined ? 'known_hosts' : 'ansible'} ${path.resolve(io.cwd, file)}`,
          });
    const failed = outcomes.filter((x) => !x.ok);
    const problems = source.notes.filter((n) => n.problem);
    const count = (t: string) => plan.filter((e) => e.action.type === t).length;

    if (o.format === 'json') {
      writeLine(
        io.stdout,
        JSON.stringify(
          {
            file: path.resolve(io.cwd, file),
            dryRun: o.dryRun === true,
            hosts: outcomes.map((x) => ({
              name: x.entry.candidate.name,
              address: x.entry.candidate.address,
              origin: x.entry.candidate.origin,
              action: x.entry.action.type,
              detail: actionText(x.entry).detail,
              ok: x.ok,
              ...(x.error === undefined ? {} : { error: x.error }),
            })),
            notes: source.notes,
          },
          null,
          2,
        ),
      );
    } else {
      for (const n of source.notes)
        writeLine(io.stderr, `${n.problem ? 'error' : 'note'}: ${n.where}: ${n.message}`);
      if (plan.length > 0) {
        const rows = [['HOST', 'ADDRESS', 'ACTION', 'DETAIL']];
        for (const x of outcomes) {
          const t = actionText(x.entry);
          rows.push([
            x.entry.candidate.name,
            `${x.entry.candidate.address}${x.entry.candidate.port === undefined ? '' : `:${x.entry.candidate.port}`}`,
            x.ok ? t.action : `FAILED ${t.action}`,
            x.ok ? t.detail : (x.error ?? ''),
          ]);
        }
        printTable(io, rows);
      }
      const summary = [
        `${count('add')} to add`,
        `${count('update')} to update`,
        `${count('pin')} to get new pins`,
        `${count('unchanged')} unchanged`,
        `${count('skip')} skipped`,
      ].join(', ');
      writeLine(
        io.stdout,
        o.dryRun === true
          ? `dry run: ${summary}; nothing was changed (run again without --dry-run to import)`
          : `${path.basename(file)}: ${summary.replace(/ to (add|update|get)/g, (m) => ({ ' to add': ' added', ' to update': ' updated', ' to get': ' got' })[m] ?? m)}` +
              (failed.length > 0 ? `; ${failed.length} failed` : ''),
      );
      const unpinned = plan.filter(
        (e) =>
          e.action.type === 'add' &&
          (e.action.input.hostKeys ?? []).length === 0 &&
          e.action.input.address !== 'local',
      );
      if (unpinned.length > 0 && o.dryRun !== true)
        writeLine(
          io.stderr,
          `note: ${unpinned.length} host(s) have no pinned key and are refused until one is: ` +
            '`patchbot hosts pin --scan --unpinned` reads their keys for review',
        );
    }
    if (failed.length > 0 || problems.length > 0) {
      // exit 4: partial (the rest was imported), 1: nothing could be
      throw new CliExit(outcomes.some((x) => x.ok) ? 4 : 1);
    }
  });
}

export function registerHostsImport(hosts: Command, io: CliIo): void {
  hosts
    .command('import')
    .description(
      'Add hosts from an OpenSSH known_hosts file (their keys pinned) or an Ansible inventory (INI or YAML).',
    )
    .argument(
      '[host...]',
      'with --known-hosts: only these hosts (name or [name]:port); needed for hashed entries',
    )
    .option('--known-hosts <file>', 'OpenSSH known_hosts file: hosts with every key it trusts for them')
    .option('--ansible <file>', 'Ansible inventory (.ini or no extension: INI; .yml/.yaml: YAML)')
    .option('--group-label-prefix <prefix>', 'with --ansible: label key prefix for groups', 'ansible/')
    .option('--port <port>', "SSH port where the file gives none (default: the policy's ssh.port)")
    .option('--user <user>', "SSH user where the file gives none (default: the policy's ssh.user)")
    .option('--identity-file <file>', 'SSH private key for these hosts where the file gives none')
    .option('--env <environment>', "environment of the new hosts (one of the policy's; default production)")
    .option('--criticality <1-4>', 'criticality of the new hosts (default 3)')
    .option('--team <team>', "owning team of the new hosts (one of the policy's teams)")
    .option('--label <key=value>', 'a label for every imported host (repeatable)', collect, [])
    .option('--update', 'redefine hosts imported earlier from the file (address, port, user, labels)')
    .option('--dry-run', 'show what would be imported and change nothing')
    .option('--format <format>', 'output format: text or json', 'text')
    .addHelpText(
      'after',
      [
        '',
        'known_hosts: plain names and [host]:port entries are imported with every key the file trusts',
        'for them (several keys: any is accepted). Hashed entries (HashKnownHosts) are found only for',
        'the hosts named on the command line. @revoked keys are never pinned; @cert-authority lines and',
        'patterns are reported and skipped. Existing hosts get the new keys pinned beside theirs.',
        '',
        'Ansible: every host with its groups as labels (group "web" -> ansible/web=true, parent groups',
        'included), ansible_host, ansible_port, ansible_user and ansible_ssh_private_key_file, by',
        "Ansible's variable precedence. ansible_connection=local becomes this machine. Templates are",
        'not evaluated. Hosts come without pinned keys: `patchbot hosts pin --scan --unpinned` next.',
        '',
        'Every change is audited. Exit 4 when some entries could not be imported.',
      ].join('\n'),
    )
    .action(async (hostArgs: string[], opts: ImportOptions) => runImport(io, hostArgs, opts));
}
