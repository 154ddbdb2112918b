/**
 * A local stand-in for the Bot Framework's token signing: an OpenID metadata document and its JWKS
 * on loopback (what https://login.botframework.com/v1/.well-known/openidconfiguration serves), and
 * RS256 tokens minted the way the Bot Framework channel service signs the requests it sends a bot:
 * iss https://api.botframework.com, aud = the bot's app id, serviceurl = the activity's serviceUrl.
 * A second key that is never published signs the "unknown key" and "bad signature" tokens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';

export interface TokenClaims {
  /** Audience: the bot's app id. */
  aud: string;
  /** The `serviceurl` claim. */
  serviceUrl: string;
  iss?: string;
  /** Seconds since the epoch; default now + 1 h. */
  exp?: number;
  nbf?: number;
  /** Key id in the header (default: the published key's). */
  kid?: string;
  /** Sign with the published key (default) or with a key that is not published. */
  signWith?: 'published' | 'unpublished';
  alg?: string;
  extra?: Record<string, unknown>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export class BotFrameworkKeys {
  readonly kid = 'patchbot-test-key-1';
  /** How many times the metadata document and the key set were fetched. */
  fetches = { metadata: 0, keys: 0 };
  private readonly published: { privateKey: KeyObject; publicKey: KeyObject };
  private readonly unpublished: { privateKey: KeyObject; publicKey: KeyObject };

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    keys: { published: BotFrameworkKeys['published']; unpublished: BotFrameworkKeys['unpublished'] },
  ) {
    this.published = keys.published;
    this.unpublished = keys.unpublished;
  }

  static async start(): Promise<BotFrameworkKeys> {
    const published = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const unpublished = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ref: { self?: BotFrameworkKeys } = {};
    const server = createServer((req, res) => {
      const s = ref.self;
      if (!s) return void res.writeHead(503).end();
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/v1/.well-known/openidconfiguration') {
        s.fetches.metadata++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            issuer: BOT_FRAMEWORK_ISSUER,
            authorization_endpoint: 'https://invalid.botframework.example/v1/authorize',
            jwks_uri: `${s.baseUrl}/v1/.well-known/keys`,
            id_token_signing_alg_values_supported: ['RS256'],
            token_endpoint_auth_methods_supported: ['private_key_jwt'],
          }),
        );
        return;
      }
      if (req.method === 'GET' && path === '/v1/.well-known/keys') {
        s.fetches.keys++;
        const jwk = s.published.publicKey.export({ format: 'jwk' });
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            keys: [
              {
                kty: 'RSA',
                use: 'sig',
                kid: s.kid,
                n: jwk.n,
                e: jwk.e,
                endorsements: ['msteams', 'emulator'],
              },
            ],
          }),
        );
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    ref.self = new BotFrameworkKeys(server, `http://127.0.0.1:${port}`, { published, unpublished });
    return ref.self;
  }

  /** The OpenID metadata URL (TEAMS_OPENID_METADATA_URL). */
  get metadataUrl(): string {
    return `${this.baseUrl}/v1/.well-known/openidconfiguration`;
  }

  token(claims: TokenClaims): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: claims.alg ?? 'RS256', typ: 'JWT', kid: claims.kid ?? this.kid };
    const payload = {
      iss: claims.iss ?? BOT_FRAMEWORK_ISSUER,
      aud: claims.aud,
      serviceurl: claims.serviceUrl,
      nbf: claims.nbf ?? now - 60,
      exp: claims.exp ?? now + 3600,
      ...claims.extra,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const key = claims.signWith === 'unpublished' ? this.unpublished.privateKey : this.published.privateKey;
    return `${input}.${b64url(sign('sha256', Buffer.from(input), key))}`;
  }

  /** `Authorization` header value for a valid token. */
  bearer(claims: TokenClaims): string {
    return `Bearer ${this.token(claims)}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
