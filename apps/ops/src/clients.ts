// How the ops commands call the services: Connect JSON over HTTP/1.1, as REST clients do.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

export function jsonTransport(baseUrl: string, interceptors: Interceptor[] = []): Transport {
  return createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors });
}
