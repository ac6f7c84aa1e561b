/**
 * The API's two documents as a server hands them out: the OpenAPI and AsyncAPI documents generated
 * from proto/ at build time (scripts/protoc-gen-hexa-api.ts), completed with what only the
 * modules' declarations know: who may call each RPC (their `access` tables) and which durable
 * consumers receive each event (their `policies`), for the modules this process serves.
 */
import { createRequire } from "node:module";
import type { Access } from "../connect/auth.ts";
import type { Consumer } from "../messaging/bus.ts";
import { policyConsumerName, type ServiceModule, type ServiceRuntime } from "../runtime/service-module.ts";

type Json = Record<string, unknown>;

export interface ApiDocuments {
  readonly openapi: Json;
  readonly asyncapi: Json;
}

/** The generated documents (packages/proto/src/gen/api), parsed afresh. */
export function generatedDocuments(): ApiDocuments {
  const require = createRequire(import.meta.url);
  return {
    openapi: require("@hexa/proto/api/openapi.json") as Json,
    asyncapi: require("@hexa/proto/api/asyncapi.json") as Json,
  };
}

/** The documents of `modules`: each RPC with its roles and service, each event with its consumers. */
export function apiDocuments(modules: readonly ServiceModule[]): ApiDocuments {
  const { openapi, asyncapi } = structuredClone(generatedDocuments());
  const paths = openapi.paths as Record<string, Record<string, Json>>;
  for (const module of modules) {
    for (const { service, methods } of module.access ?? []) {
      for (const method of service.methods) {
        const access = methods[method.localName];
        const item = paths[`/${service.typeName}/${method.name}`];
        if (!access || !item) continue;
        for (const operation of Object.values(item)) describeAccess(operation, access, module.name);
      }
    }
  }
  const channels = asyncapi.channels as Record<string, Json>;
  const operations = asyncapi.operations as Record<string, Json>;
  for (const module of modules) {
    const packages = new Set((module.access ?? []).map(({ service }) => service.file.proto.package));
    for (const operation of Object.values(operations)) {
      if (packages.has(`${operation["x-hexa-context"]}.v1`)) operation["x-hexa-service"] = module.name;
    }
    for (const consumer of declaredConsumers(module)) {
      const channelId = consumer.eventType.replaceAll(".", "_");
      const channel = channels[channelId];
      if (!channel)
        throw new Error(`${consumer.name} consumes ${consumer.eventType}, which proto/ does not declare`);
      const [messageName] = Object.keys(channel.messages as Json);
      operations[consumer.name] = {
        action: "receive",
        title: `${module.name} consumes ${messageName}`,
        summary: `Durable consumer ${consumer.name} of the ${module.name} service: explicit ack, bounded redelivery, then a dead letter.`,
        channel: { $ref: `#/channels/${channelId}` },
        messages: [{ $ref: `#/channels/${channelId}/messages/${messageName}` }],
        "x-hexa-service": module.name,
      };
    }
  }
  return { openapi, asyncapi };
}

/**
 * Who may call an operation, as OpenAPI 3.1 allows for any scheme: the role names in its security
 * requirement (`admin` may call everything), and the rule for a role limited to its own records.
 */
function describeAccess(operation: Json, access: Access, service: string): void {
  const roles = ["admin", ...access.roles, ...(access.own ? [access.own.role] : [])];
  operation.security = [{ bearer: roles }];
  operation["x-hexa-service"] = service;
  operation["x-hexa-access"] = access;
  const own = access.own
    ? ` A ${access.own.role} only on their own records${access.own.field ? ` (\`${access.own.field}\` must be their subject)` : ""}.`
    : "";
  operation.description = `${operation.description ?? ""}\n\n**Roles:** ${roles.join(", ")}.${own}`.trim();
}

/**
 * The consumers a module's `policies` declare. A policy declares itself through `runtime.onEvent`
 * when built, and uses the rest of the runtime only when it handles an event; so a
 * runtime that records those declarations (and has nothing else) lists them without a database.
 */
export function declaredConsumers(module: ServiceModule): Array<Pick<Consumer, "name" | "eventType">> {
  const declared: Array<Pick<Consumer, "name" | "eventType">> = [];
  const declare = (name: string, eventType: string): Consumer => {
    const consumer = { name: policyConsumerName(module, name), eventType };
    declared.push(consumer);
    return { ...consumer, handle: () => Promise.reject(new Error("a declaration handles nothing")) };
  };
  const declaring = new Proxy({} as ServiceRuntime, {
    get: (_, key) => (key === "onEvent" ? declare : undefined),
  });
  module.policies?.(declaring);
  return declared;
}
