/** `/patch help` and the answer to an unknown subcommand. */
export interface HelpView {
  type: 'help';
  /** The command as the platform knows it: "/patch" in Slack, "patch" in Teams. */
  command: string;
  /** Shown first, e.g. "I don't know `/patch frobnicate`." */
  problem?: string;
  entries: { usage: string; description: string }[];
}

export function patchHelp(command = '/patch', problem?: string): HelpView {
  const entries = [
    {
      usage: 'status',
      description: 'Fleet: open findings by risk, KEV overdue, SLA breaches, reboots, deployments',
    },
    { usage: 'status <host|CVE|advisory|team>', description: 'One host, CVE, advisory or team' },
    { usage: 'coverage [team]', description: 'Scan coverage, SLA compliance and time to remediate' },
    {
      usage: 'request <change> [--emergency] [reason]',
      description: 'Ask for the rollout of a change (you then cannot approve it)',
    },
    { usage: 'approve <change>', description: 'Approve a change, e.g. `approve 42`' },
    { usage: 'reject <change> [reason]', description: 'Reject a change with a reason' },
    { usage: 'digest [team]', description: "Post the team's weekly digest now" },
    {
      usage: 'link <team>',
      description: 'Microsoft Teams: bind this channel to a patchbot team (admins)',
    },
    { usage: 'help', description: 'This list' },
  ].map((e) => ({ usage: `${command} ${e.usage}`, description: e.description }));
  return problem === undefined
    ? { type: 'help', command, entries }
    : { type: 'help', command, problem, entries };
}
