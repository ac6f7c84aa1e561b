// Production sign-in: OpenID Connect authorization code flow with PKCE (oidc-client-ts), loaded
// only when the server configures it. The access token is what the services verify.
import { UserManager, WebStorageStateStore } from "oidc-client-ts";
import type { SignInConfig } from "./config.ts";
import { type Session, sessionOf } from "./session.ts";

type OidcConfig = Extract<SignInConfig, { mode: "oidc" }>;

function manager(config: OidcConfig): UserManager {
  // Tokens for the API, not for the provider's own userinfo (often opaque): RFC 8707's `resource`
  // on both requests, and Auth0's `audience` on the authorization request.
  const resource = config.audience ? { resource: config.audience } : undefined;
  return new UserManager({
    authority: config.authority,
    client_id: config.clientId,
    redirect_uri: `${location.origin}/`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: "code",
    scope: config.scope,
    ...(resource && {
      extraQueryParams: { ...resource, audience: resource.resource },
      extraTokenParams: resource,
    }),
    userStore: new WebStorageStateStore({ store: sessionStorage }),
    // An expired token returns the person to the sign-in (App): no hidden renewal in an iframe.
    automaticSilentRenew: false,
  });
}

export function startSignIn(config: OidcConfig): Promise<void> {
  return manager(config).signinRedirect();
}

/** After the identity provider redirects back with `?code=…&state=…`: the session, else undefined. */
export async function completeSignIn(config: OidcConfig): Promise<Session | undefined> {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") || !params.has("state")) return undefined;
  const user = await manager(config).signinRedirectCallback();
  history.replaceState(null, "", location.pathname + location.hash);
  if (user.access_token.split(".").length !== 3) {
    throw new Error(
      "the identity provider's access token is not a JWT the services can verify: ask it for tokens for the API (CONSOLE_OIDC_AUDIENCE)",
    );
  }
  return sessionOf(user.access_token, config.roleClaim, "oidc");
}

export function signOut(config: OidcConfig): Promise<void> {
  return manager(config).signoutRedirect();
}
