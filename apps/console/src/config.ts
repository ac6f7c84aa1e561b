/** How people sign in, as the server that serves the console says (`/console/config.json`). */
export type SignInConfig =
  | {
      /** Laptop mode: pick a role and a subject; the all-in-one signs a development token. */
      readonly mode: "development";
      readonly endpoint: string;
      readonly roles: readonly string[];
    }
  | {
      /** OpenID Connect, authorization code with PKCE, against the identity provider. */
      readonly mode: "oidc";
      readonly authority: string;
      readonly clientId: string;
      readonly scope: string;
      /** Claim of the access token holding the roles (a dotted path), as the services read it. */
      readonly roleClaim: string;
    }
  | { readonly mode: "unavailable"; readonly reason: string };

export interface ConsoleConfig {
  readonly signIn: SignInConfig;
}
