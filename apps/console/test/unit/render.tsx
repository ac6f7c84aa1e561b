// Screens rendered as in the console, their calls answered by Connect handlers in memory.
import type { ConnectRouter } from "@connectrpc/connect";
import { createRouterTransport } from "@connectrpc/connect";
import { TransportProvider } from "@connectrpc/connect-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactNode } from "react";

export function renderWith(routes: (router: ConnectRouter) => void, screen: ReactNode) {
  const transport = createRouterTransport(routes);
  const queries = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queries}>{screen}</QueryClientProvider>
    </TransportProvider>,
  );
}
