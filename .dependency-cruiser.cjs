/**
 * Architecture rules (docs/architecture.md). `npm run lint` fails when one is broken.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Import cycles make start-up order and testing fragile.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'src/core is the pure domain: no I/O, no adapters, no other layer.',
      from: { path: '^src/core/' },
      to: {
        dependencyTypesNot: ['core'],
        pathNot: [
          '^src/core/',
          '(^|/)node_modules/(zod|date-fns|@date-fns/tz|semver|@renovatebot/pep440|ae-cvss-calculator)/',
        ],
      },
    },
    {
      name: 'core-no-node-io',
      severity: 'error',
      comment: 'src/core may not use Node built-ins that do I/O.',
      from: { path: '^src/core/' },
      to: { dependencyTypes: ['core'], pathNot: '^(node:)?(crypto|util)$' },
    },
    {
      name: 'only-bot-slack-imports-slack',
      severity: 'error',
      from: { pathNot: '^src/bot/slack/' },
      to: { path: '(^|/)node_modules/@slack/' },
    },
    {
      name: 'only-bot-teams-imports-botbuilder',
      severity: 'error',
      from: { pathNot: '^src/bot/teams/' },
      to: { path: '(^|/)node_modules/(botbuilder|botframework-[a-z-]+)/' },
    },
    {
      name: 'only-executors-ssh-imports-node-ssh',
      severity: 'error',
      from: { pathNot: '^src/executors/ssh/' },
      to: { path: '(^|/)node_modules/(node-ssh|ssh2)/' },
    },
    {
      name: 'only-db-imports-prisma',
      severity: 'error',
      from: { pathNot: '^src/db/' },
      to: {
        path: [
          '^src/db/generated/',
          '(^|/)node_modules/(@prisma/|prisma/|pglite-prisma-adapter/|@electric-sql/pglite/)',
        ],
      },
    },
    {
      name: 'integrations-are-edges',
      severity: 'error',
      comment: 'Event sinks are called by the jobs; they do not reach back into jobs, chat or the CLI.',
      from: { path: '^src/integrations/' },
      to: { path: '^src/(jobs|bot|cli|http)/' },
    },
    {
      name: 'not-to-cli',
      severity: 'error',
      comment: 'The CLI is an entry point; nothing else imports it.',
      from: { pathNot: '^src/(cli|main\\.ts)' },
      to: { path: '^src/cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/db/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    moduleSystems: ['es6', 'cjs'],
  },
};
