// A real OpenID Connect provider (oidc-provider) on 127.0.0.1, set up as an operator would set up
// theirs for the console: a public client with PKCE whose redirect URI is the console's page, CORS
// for that origin, access tokens as JWTs for the API's audience (a resource indicator) carrying
// the roles, and a confidential client for the services' own calls (client credentials).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import Provider, { type KoaContextWithOIDC } from "oidc-provider";

export interface IdentityProviderOptions {
  readonly port: number;
  /** The console's origin: its page at `/` is the redirect URI. */
  readonly consoleOrigin: string;
  readonly clientId: string;
  /** The services' AUTH_AUDIENCE: every access token is issued for it. */
  readonly audience: string;
  /** Roles by subject (the login name typed on the provider's page). */
  readonly roles: Readonly<Record<string, readonly string[]>>;
}

export interface IdentityProvider {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly tokenUrl: string;
  /** The services' confidential client (role `service`). */
  readonly serviceClient: { readonly id: string; readonly secret: string };
  /** Lifetime of the access tokens issued from now on, in seconds. */
  accessTokenTtl: number;
  close(): Promise<void>;
}

export async function startIdentityProvider(options: IdentityProviderOptions): Promise<IdentityProvider> {
  const issuer = `http://127.0.0.1:${options.port}`;
  const signingKey = {
    ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }),
    kid: "console-test",
    alg: "ES256",
    use: "sig",
  };
  const serviceClient = { id: "hexa-services", secret: randomBytes(24).toString("base64url") };
  const consolePage = `${options.consoleOrigin}/`;
  const state = { accessTokenTtl: 600 };
  /** Read at each issue, so a test can shorten the next tokens' lives. */
  const accessTokenTtl = () => state.accessTokenTtl;

  const provider = new Provider(issuer, {
    clients: [
      {
        // Public: a browser keeps no secret; PKCE stands in for it.
        client_id: options.clientId,
        token_endpoint_auth_method: "none",
        application_type: "web",
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [consolePage],
        post_logout_redirect_uris: [consolePage],
        id_token_signed_response_alg: "ES256",
      },
      {
        client_id: serviceClient.id,
        client_secret: serviceClient.secret,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        id_token_signed_response_alg: "ES256",
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(24).toString("base64url")] },
    pkce: { required: () => true },
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: 600,
      Grant: 3600,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
    },
    // The token endpoint answers the browser on the console's origin, and no other.
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((uri) => new URL(uri).origin === origin) ?? false,
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      // The provider's own login and consent pages (any login name, any password).
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== options.audience) throw new Error(`unknown resource ${resource}`);
          return {
            scope: "api",
            audience: options.audience,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "ES256" } },
          };
        },
      },
    },
    // The roles where Keycloak puts them (AUTH_ROLE_CLAIM=realm_access.roles).
    extraTokenClaims: (_ctx: KoaContextWithOIDC, token) => {
      if (token.kind === "ClientCredentials") return { realm_access: { roles: ["service"] } };
      const subject = "accountId" in token ? String(token.accountId) : "";
      return { realm_access: { roles: [...(options.roles[subject] ?? [])] } };
    },
  });

  const server = createServer(provider.callback());
  await new Promise<void>((started, failed) => {
    server.once("error", failed);
    server.listen(options.port, "127.0.0.1", started);
  });
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    tokenUrl: `${issuer}/token`,
    serviceClient,
    get accessTokenTtl() {
      return state.accessTokenTtl;
    },
    set accessTokenTtl(seconds: number) {
      state.accessTokenTtl = seconds;
    },
    close: () =>
      new Promise<void>((closed) => {
        server.closeAllConnections();
        server.close(() => closed());
      }),
  };
}
