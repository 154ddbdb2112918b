/**
 * A stand-in for the part of Microsoft Graph patchbot calls: the user members of an Entra group
 * (`GET /v1.0/groups/{id}/transitiveMembers/microsoft.graph.user`), in Graph's wire format (a
 * `value` array, paged with `@odata.nextLink`), behind a bearer token.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGraphOptions {
  token: string;
  /** Members (Entra object ids) per group id. */
  groups: Record<string, string[]>;
  /** Members per page (Graph's $top; default 2, to make paging happen). */
  pageSize?: number;
  /** Groups whose listing is refused with 403 (a missing permission). */
  forbidden?: string[];
}

export class FakeGraph {
  readonly calls: { path: string; status: number }[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: FakeGraphOptions): Promise<FakeGraph> {
    const ref: { self?: FakeGraph } = {};
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const reply = (status: number, body: unknown) => {
        ref.self?.calls.push({ path: url.pathname + url.search, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${options.token}`)
        return reply(401, {
          error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' },
        });
      const m = /^\/graph\/v1\.0\/groups\/([^/]+)\/transitiveMembers\/microsoft\.graph\.user$/.exec(
        url.pathname,
      );
      if (!m) return reply(404, { error: { code: 'Request_ResourceNotFound', message: url.pathname } });
      const id = decodeURIComponent(m[1] ?? '');
      if (options.forbidden?.includes(id))
        return reply(403, {
          error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges' },
        });
      const members = options.groups[id];
      if (!members) return reply(404, { error: { code: 'Request_ResourceNotFound', message: id } });
      const size = options.pageSize ?? 2;
      const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
      const page = members.slice(skip, skip + size);
      const next = skip + size < members.length ? new URL(url.toString()) : undefined;
      next?.searchParams.set('$skiptoken', String(skip + size));
      return reply(200, {
        '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#directoryObjects',
        value: page.map((u) => ({ '@odata.type': '#microsoft.graph.user', id: u })),
        ...(next
          ? { '@odata.nextLink': `${ref.self?.url.replace(/\/graph\/$/, '')}${next.pathname}${next.search}` }
          : {}),
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    ref.self = new FakeGraph(server, `http://127.0.0.1:${port}/graph/`);
    return ref.self;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
