import { TransportProvider } from "@connectrpc/connect-query";
import { createConnectTransport } from "@connectrpc/connect-web";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.tsx";
import { currentToken } from "./auth-state.ts";
import "./style.css";

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
const queries = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } } });

const root = document.getElementById("root");
if (!root) throw new Error("no #root element");
createRoot(root).render(
  <StrictMode>
    <TransportProvider transport={transport}>
      <QueryClientProvider client={queries}>
        <App />
      </QueryClientProvider>
    </TransportProvider>
  </StrictMode>,
);
