// What a signed-in person works with: the Connect transport (its calls carry the session's token),
// the query cache, and the screen. Loaded once someone is signed in, so the sign-in screen does not
// wait for the Connect, protobuf and TanStack Query code.
import { TransportProvider } from "@connectrpc/connect-query";
import { createConnectTransport } from "@connectrpc/connect-web";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { Suspense, useState } from "react";
import { currentToken } from "./auth-state.ts";
import type { Screen } from "./screens.ts";
import type { Session } from "./session.ts";

// Same origin: the server that serves the console also serves the Connect API (or routes it).
const transport = createConnectTransport({
  baseUrl: location.origin,
  interceptors: [
    (next) => (request) => {
      const token = currentToken();
      if (token) request.header.set("authorization", `Bearer ${token}`);
      return next(request);
    },
  ],
});

/** One screen for `session`; a new session (mounted anew) starts with an empty cache. */
export default function Workspace(props: { session: Session; screen: Screen; argument: string }) {
  const [queries] = useState(
    () => new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } }),
  );
  const { session, screen, argument } = props;
  return (
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queries}>
        <h1>{screen.title}</h1>
        <Suspense fallback={<p>Loading…</p>}>
          <screen.component subject={session.subject} roles={session.roles} argument={argument} />
        </Suspense>
      </QueryClientProvider>
    </TransportProvider>
  );
}
