import type { ConsoleConfig } from "../src/config.ts";

export type { ConsoleConfig };

/**
 * OpenID Connect when CONSOLE_OIDC_CLIENT_ID is set: CONSOLE_OIDC_AUTHORITY (default AUTH_ISSUER),
 * CONSOLE_OIDC_SCOPE (default "openid profile"), CONSOLE_OIDC_AUDIENCE (the API tokens are asked for,
 * if the provider needs telling), roles from AUTH_ROLE_CLAIM (default "roles").
 */
export function oidcConfig(env: Record<string, string | undefined> = process.env): ConsoleConfig {
  const clientId = env.CONSOLE_OIDC_CLIENT_ID;
  const authority = env.CONSOLE_OIDC_AUTHORITY || env.AUTH_ISSUER;
  if (!clientId || !authority) {
    return {
      signIn: {
        mode: "unavailable",
        reason:
          "no identity provider is configured for the console (CONSOLE_OIDC_CLIENT_ID and CONSOLE_OIDC_AUTHORITY)",
      },
    };
  }
  return {
    signIn: {
      mode: "oidc",
      authority,
      clientId,
      scope: env.CONSOLE_OIDC_SCOPE || "openid profile",
      ...(env.CONSOLE_OIDC_AUDIENCE ? { audience: env.CONSOLE_OIDC_AUDIENCE } : {}),
      roleClaim: env.AUTH_ROLE_CLAIM || "roles",
    },
  };
}
