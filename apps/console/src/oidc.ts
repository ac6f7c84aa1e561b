// Production sign-in: OpenID Connect authorization code flow with PKCE (oidc-client-ts), loaded
// only when the server configures it. The access token is what the services verify.
import { UserManager, WebStorageStateStore } from "oidc-client-ts";
import type { SignInConfig } from "./config.ts";
import { type Session, sessionOf } from "./session.ts";

type OidcConfig = Extract<SignInConfig, { mode: "oidc" }>;

function manager(config: OidcConfig): UserManager {
  return new UserManager({
    authority: config.authority,
    client_id: config.clientId,
    redirect_uri: `${location.origin}/`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: "code",
    scope: config.scope,
    userStore: new WebStorageStateStore({ store: sessionStorage }),
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
  return sessionOf(user.access_token, config.roleClaim, "oidc");
}

export function signOut(config: OidcConfig): Promise<void> {
  return manager(config).signoutRedirect();
}
