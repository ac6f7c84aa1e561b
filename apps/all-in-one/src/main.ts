// Every service of both suites in one process on one port. Without DATABASE_URL it runs an embedded
// PostgreSQL; without NATS_URL the embedded in-process bus carries the events. It also serves the
// API's description (/openapi.json, /asyncapi.json and the reference page /docs) and the web console
// at `/`, with laptop sign-in while the development key is in use on a loopback address.
import { apiDocsRoutes } from "@hexa/adapters/apidocs/routes";
import { runApp } from "@hexa/adapters/runtime/app";
import { readEnvironment } from "@hexa/adapters/runtime/config";
import { services } from "@hexa/adapters/services";
import { oidcConfig } from "@hexa/console/server/config";
import { consoleRoutes } from "@hexa/console/server/routes";
import { SIGN_IN_PATH, SIGN_IN_ROLES, signInKeyDir, signInRoute } from "./sign-in.ts";

/** The environment, or undefined when it is invalid (runApp then says what is wrong, and exits). */
function environment() {
  try {
    return readEnvironment();
  } catch {
    return undefined;
  }
}

const modules = [...services.values()];
const env = environment();
const keyDir = env && signInKeyDir(env);
const httpRoutes = [
  ...(keyDir ? [signInRoute(keyDir)] : []),
  ...apiDocsRoutes(modules),
  // Last: the console answers every other GET with its page (the single-page app's own routes).
  ...consoleRoutes(
    keyDir ? { signIn: { mode: "development", endpoint: SIGN_IN_PATH, roles: SIGN_IN_ROLES } } : oidcConfig(),
  ),
];

await runApp({
  name: "all-in-one",
  modules,
  allInOne: true,
  httpRoutes,
  announce: (url) => ({
    console: `${url}/${keyDir ? " (development sign-in: pick any role)" : ""}`,
  }),
});
