/**
 * Bot Framework authentication for the Teams edge, both ways:
 *
 * - Incoming (`POST /api/messages`): the JWT Teams sends is checked against the Bot Framework's
 *   OpenID metadata and keys (issuer https://api.botframework.com, audience = the bot's app id,
 *   the `serviceurl` claim = the activity's serviceUrl, not expired, signed by a published key).
 * - Outgoing (replies, proactive posts): a token for the bot from Entra ID with the app id and
 *   client secret, from the bot's own tenant for a single-tenant bot (TEAMS_TENANT_ID) and from the
 *   Bot Framework tenant for a multi-tenant one.
 *
 * `openIdMetadataUrl` replaces the public cloud's metadata document (private or sovereign clouds,
 * and tests with a local key server); `outboundToken` replaces Entra ID as the source of outgoing
 * tokens. With `allowUnauthenticated` (TEAMS_DEV_NO_AUTH) incoming requests are not checked at all.
 */
import {
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
  type ConfigurationBotFrameworkAuthenticationOptions,
} from 'botbuilder';

/** The public cloud's endpoints (botframework-connector's AuthenticationConstants). */
export const PUBLIC_CLOUD = {
  toChannelFromBotLoginUrl: 'https://login.microsoftonline.com/botframework.com',
  toChannelFromBotOAuthScope: 'https://api.botframework.com',
  toBotFromChannelTokenIssuer: 'https://api.botframework.com',
  oAuthUrl: 'https://api.botframework.com',
  toBotFromChannelOpenIdMetadataUrl: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  toBotFromEmulatorOpenIdMetadataUrl:
    'https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration',
  callerId: 'urn:botframework:azure',
} as const;

export interface TeamsAuthOptions {
  appId: string;
  appPassword?: string;
  /** Single-tenant bot when set; multi-tenant otherwise. */
  tenantId?: string;
  /** Local development only: accept requests without a token. */
  allowUnauthenticated?: boolean;
  /** The OpenID metadata document of the tokens Teams sends (default: the public cloud's). */
  openIdMetadataUrl?: string;
  /** Source of the bearer token on outgoing calls (default: Entra ID with the app id and password). */
  outboundToken?: (audience: string | undefined) => Promise<string>;
}

type CredentialsFactory = NonNullable<
  ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[1]
>;
type Credentials = Awaited<ReturnType<CredentialsFactory['createCredentials']>>;
type WebResource = Parameters<Credentials['signRequest']>[0];

/** Credentials that add `Authorization: Bearer <token>` to each outgoing request. */
function bearer(token: () => Promise<string>): Credentials {
  return {
    async signRequest(webResource: WebResource) {
      webResource.headers.set('Authorization', `Bearer ${await token()}`);
      return webResource;
    },
  };
}

/** Credentials that add nothing (development without an app password). */
const NO_CREDENTIALS: Credentials = {
  signRequest: (webResource: WebResource) => Promise.resolve(webResource),
};

function credentialsFactory(options: TeamsAuthOptions): CredentialsFactory {
  const appType = options.tenantId ? 'SingleTenant' : 'MultiTenant';
  const entra =
    options.appPassword === undefined || options.appPassword === ''
      ? undefined
      : new ConfigurationServiceClientCredentialFactory({
          MicrosoftAppId: options.appId,
          MicrosoftAppPassword: options.appPassword,
          MicrosoftAppType: appType,
          ...(options.tenantId ? { MicrosoftAppTenantId: options.tenantId } : {}),
        });
  const disabled = options.allowUnauthenticated === true;
  return {
    // App ids are GUIDs: the same id in any letter case.
    isValidAppId: (appId: string) => Promise.resolve(appId.toLowerCase() === options.appId.toLowerCase()),
    isAuthenticationDisabled: () => Promise.resolve(disabled),
    async createCredentials(
      _appId: string | undefined,
      audience: string | undefined,
      loginEndpoint: string,
      validateAuthority: boolean,
    ): Promise<Credentials> {
      const token = options.outboundToken;
      if (token) return bearer(() => token(audience));
      // Outgoing calls are always the bot's own (anonymous turns, with authentication off, name none).
      if (entra)
        return entra.createCredentials(
          options.appId,
          audience ?? PUBLIC_CLOUD.toChannelFromBotOAuthScope,
          loginEndpoint,
          validateAuthority,
        );
      if (disabled) return NO_CREDENTIALS;
      throw new Error('TEAMS_APP_PASSWORD is not set: patchbot cannot get a token for Microsoft Teams');
    },
  };
}

/** The BotFrameworkAuthentication the CloudAdapter (and the edge's own check) use. */
export function createAuthentication(options: TeamsAuthOptions): ConfigurationBotFrameworkAuthentication {
  const config: ConfigurationBotFrameworkAuthenticationOptions = {
    MicrosoftAppId: options.appId,
    ...(options.tenantId ? { MicrosoftAppTenantId: options.tenantId } : {}),
  };
  if (options.openIdMetadataUrl) {
    // Any endpoint given means every endpoint must be: the rest stay the public cloud's.
    Object.assign(config, {
      ValidateAuthority: true,
      ToChannelFromBotLoginUrl: PUBLIC_CLOUD.toChannelFromBotLoginUrl,
      ToChannelFromBotOAuthScope: PUBLIC_CLOUD.toChannelFromBotOAuthScope,
      ToBotFromChannelTokenIssuer: PUBLIC_CLOUD.toBotFromChannelTokenIssuer,
      OAuthUrl: PUBLIC_CLOUD.oAuthUrl,
      ToBotFromChannelOpenIdMetadataUrl: options.openIdMetadataUrl,
      ToBotFromEmulatorOpenIdMetadataUrl: PUBLIC_CLOUD.toBotFromEmulatorOpenIdMetadataUrl,
      CallerId: PUBLIC_CLOUD.callerId,
    } satisfies ConfigurationBotFrameworkAuthenticationOptions);
  }
  return new ConfigurationBotFrameworkAuthentication(config, credentialsFactory(options));
}

/**
 * A bearer token for one of the bot's own calls to another Microsoft API (`audience`, e.g.
 * https://graph.microsoft.com), from Entra ID with the bot's credentials in `tenantId`, or from
 * `outboundToken` when given.
 */
export async function bearerToken(
  options: TeamsAuthOptions,
  audience: string,
  tenantId: string,
): Promise<string> {
  const credentials = await credentialsFactory(options).createCredentials(
    options.appId,
    audience,
    `https://login.microsoftonline.com/${tenantId}`,
    true,
  );
  // The credentials sign an outgoing request: give them one that only keeps the header.
  let header = '';
  const request = {
    headers: {
      set: (name: string, value: string) => {
        if (name.toLowerCase() === 'authorization') header = value;
      },
    },
  };
  await credentials.signRequest(request as unknown as WebResource);
  const m = /^Bearer (.+)$/.exec(header);
  if (!m?.[1]) throw new Error(`no token for ${audience}: the bot has no credentials (TEAMS_APP_PASSWORD)`);
  return m[1];
}
