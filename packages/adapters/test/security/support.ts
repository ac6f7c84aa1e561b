import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ensureDevKeys, loadDevKeys, signDevToken } from "@hexa/adapters/auth/tokens";
import { type Access, accessByProcedure } from "@hexa/adapters/connect/auth";
import type { ServiceModule } from "@hexa/adapters/runtime/service-module";

/** Every application RPC the modules mount, with its access declaration. */
export interface Rpc {
  readonly service: DescService;
  readonly method: DescMethod;
  readonly access: Access;
  readonly procedure: string;
}

export function rpcsOf(modules: readonly ServiceModule[]): Rpc[] {
  const declared = modules.flatMap((module) => module.access ?? []);
  const rules = accessByProcedure(declared);
  return declared.flatMap(({ service }) =>
    service.methods.map((method) => {
      const procedure = `/${service.typeName}/${method.name}`;
      const access = rules.get(procedure);
      if (!access) throw new Error(`no access declared for ${procedure}`);
      return { service, method, access, procedure };
    }),
  );
}

/**
 * Calls `rpc` with `request` and `token` (Connect JSON); resolves with the Connect code, or
 * undefined for success. A stream is read until its first message, or for `streamMs`.
 */
export async function codeOf(
  baseUrl: string,
  rpc: Rpc,
  request: Record<string, unknown>,
  token: string | undefined,
  streamMs = 300,
): Promise<Code | undefined> {
  const client = createClient(
    rpc.service,
    createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }),
  ) as unknown as Record<string, (request: unknown, options: unknown) => unknown>;
  const call = client[rpc.method.localName];
  if (!call) throw new Error(`no client method ${rpc.method.localName}`);
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  try {
    if (rpc.method.methodKind === "server_streaming") {
      const stop = AbortSignal.timeout(streamMs);
      const stream = call(request, { headers, signal: stop }) as AsyncIterable<unknown>;
      try {
        for await (const _ of stream) break;
      } catch (error) {
        if (stop.aborted) return undefined; // still waiting for news: authorized
        throw error;
      }
      return undefined;
    }
    await (call(request, { headers }) as Promise<unknown>);
    return undefined;
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

/** A token signed with a key pair no service knows. */
export async function foreignToken(roles: string[], subject = "intruder"): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "hexa-foreign-key-"));
  await ensureDevKeys(dir);
  return signDevToken(await loadDevKeys(dir), { subject, roles });
}

export const authCodes: ReadonlySet<Code | undefined> = new Set([
  Code.Unauthenticated,
  Code.PermissionDenied,
]);
