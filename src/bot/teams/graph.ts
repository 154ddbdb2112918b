/**
 * Members of Entra groups, read through Microsoft Graph for the roles and approver lists that name
 * groups (`GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user`, every page). The bot's
 * app registration needs the `GroupMember.Read.All` application permission (admin consent). Member
 * lists are cached briefly so a burst of clicks asks Graph once per group; a failed lookup is not
 * cached. The token is only ever sent to the Graph origin it was configured with.
 */
import { z } from 'zod';
import { PatchbotError } from '../../core/errors.js';

class GraphError extends PatchbotError {
  constructor(message: string) {
    super('CHAT_API', message);
  }
}

export interface EntraGroupsOptions {
  /** A bearer token for Microsoft Graph (see auth.ts bearerToken). */
  token: () => Promise<string>;
  /** Graph base URL with a trailing slash (default https://graph.microsoft.com/). */
  graphUrl?: string;
  /** How long a group's member list is reused (default 60 s). */
  ttlMs?: number;
  now?: () => number;
  /** Pages read per group at most (999 members each). */
  maxPages?: number;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const MembersPage = z.object({
  value: z.array(z.looseObject({ id: z.string().max(100) })),
  '@odata.nextLink': z.string().max(4000).optional(),
});

export function entraGroupMembers(
  options: EntraGroupsOptions,
): (groupId: string) => Promise<readonly string[]> {
  const base = new URL(options.graphUrl ?? 'https://graph.microsoft.com/');
  const ttl = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const maxPages = options.maxPages ?? 50;
  const cache = new Map<string, { at: number; members: Promise<readonly string[]> }>();

  async function read(groupId: string): Promise<readonly string[]> {
    if (!GUID.test(groupId)) throw new GraphError(`${JSON.stringify(groupId)} is not an Entra group id`);
    const token = await options.token();
    const members: string[] = [];
    let url: URL | undefined = new URL(
      `v1.0/groups/${encodeURIComponent(groupId)}/transitiveMembers/microsoft.graph.user?$select=id&$top=999`,
      base,
    );
    for (let page = 0; url && page < maxPages; page++) {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 404) throw new GraphError(`Microsoft Graph knows no Entra group ${groupId}`);
      if (res.status === 401 || res.status === 403)
        throw new GraphError(
          `Microsoft Graph refused to list the members of Entra group ${groupId} (${res.status}): the bot's app registration needs the GroupMember.Read.All application permission with admin consent`,
        );
      if (!res.ok) throw new GraphError(`Microsoft Graph answered ${res.status} for Entra group ${groupId}`);
      const body = MembersPage.safeParse(await res.json());
      if (!body.success)
        throw new GraphError(`Microsoft Graph sent an unexpected member list for ${groupId}`);
      for (const m of body.data.value) if (GUID.test(m.id)) members.push(m.id.toLowerCase());
      const next = body.data['@odata.nextLink'];
      url = next === undefined ? undefined : new URL(next);
      if (url && url.origin !== base.origin)
        throw new GraphError(`Microsoft Graph pointed the member list of ${groupId} to another origin`);
    }
    return members;
  }

  return (groupId) => {
    const key = groupId.toLowerCase();
    const hit = cache.get(key);
    if (hit && now() - hit.at < ttl) return hit.members;
    const members = read(key).catch((err: unknown) => {
      cache.delete(key);
      throw err;
    });
    cache.set(key, { at: now(), members });
    return members;
  };
}
