/**
 * protoc-gen-hexa-api: a protoc/buf plugin writing the public contract of proto/ as two documents,
 * `openapi.json` (OpenAPI 3.1: every RPC as its Connect JSON call) and `asyncapi.json` (AsyncAPI
 * 3.0: every event on its NATS subject). Run by `buf generate` (buf.gen.yaml, `strategy: all`).
 *
 * What the protos say is written here: paths, schemas in the protobuf JSON mapping, the Connect
 * error with the hexa.common.v1 details, the bearer scheme, subjects, headers and publishers.
 * What only the TypeScript declarations know (each RPC's roles, each event's consumers) is added
 * by the server when it serves the documents (packages/adapters/src/apidocs/documents.ts).
 *
 * - Services: every service outside the `grpc.*` packages (health and reflection are the
 *   platform's). A method marked `idempotency_level = NO_SIDE_EFFECTS` also gets its Connect GET.
 * - Events: the top-level messages of each `events.proto` that no other message of that file
 *   embeds. The subject is the event's full name; the publisher is the context of its package.
 * - Error details: the messages of package `hexa.common.v1`.
 */
import {
  create,
  createFileRegistry,
  type DescEnum,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
  ScalarType,
} from "@bufbuild/protobuf";
import {
  CodeGeneratorResponse_Feature,
  CodeGeneratorResponseSchema,
  FileDescriptorSetSchema,
  MethodOptions_IdempotencyLevel,
} from "@bufbuild/protobuf/wkt";
import { getComments, type Plugin, runNodeJs } from "@bufbuild/protoplugin";

type Json = Record<string, unknown>;

const TITLE = "hexa";
const DETAILS_PACKAGE = "hexa.common.v1";

/** Connect error codes, as the JSON error body spells them, with their HTTP status. */
const CONNECT_CODES: ReadonlyArray<readonly [string, number]> = [
  ["canceled", 499],
  ["unknown", 500],
  ["invalid_argument", 400],
  ["deadline_exceeded", 504],
  ["not_found", 404],
  ["already_exists", 409],
  ["permission_denied", 403],
  ["resource_exhausted", 429],
  ["failed_precondition", 400],
  ["aborted", 409],
  ["out_of_range", 400],
  ["unimplemented", 501],
  ["internal", 500],
  ["unavailable", 503],
  ["data_loss", 500],
  ["unauthenticated", 401],
];

/** Headers every event travels with on NATS (see packages/adapters/src/jetstream/envelope.ts). */
const EVENT_HEADERS: Json = {
  type: "object",
  required: ["Nats-Msg-Id", "Hexa-Event-Id", "Hexa-Event-Type", "Hexa-Aggregate-Id", "Hexa-Occurred-At"],
  properties: {
    "Nats-Msg-Id": {
      type: "string",
      description: "The event id again: JetStream drops a duplicate publish.",
    },
    "Hexa-Event-Id": {
      type: "string",
      format: "uuid",
      description: "Event id (UUIDv7); consumers' inboxes key on it.",
    },
    "Hexa-Event-Type": {
      type: "string",
      description: "Full proto name of the payload's message (the subject without a namespace).",
    },
    "Hexa-Aggregate-Id": {
      type: "string",
      description: "Id of the aggregate the event belongs to: the correlation key.",
    },
    "Hexa-Occurred-At": { type: "string", format: "date-time", description: "When it happened (RFC 3339)." },
    traceparent: {
      type: "string",
      pattern: "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
      description: "W3C trace context of the command that caused the event, when it was traced.",
    },
  },
};

function generate(files: readonly DescFile[], version: string): { openapi: Json; asyncapi: Json } {
  const services = files.flatMap((file) => (file.proto.package.startsWith("grpc.") ? [] : file.services));
  const events = files.flatMap(eventsOf);
  const details = files
    .filter((file) => file.proto.package === DETAILS_PACKAGE)
    .flatMap((file) => file.messages);
  const open = new Schemas((name) => name);
  const async = new Schemas(asyncId);
  return {
    openapi: openApi(services, details, open, version),
    asyncapi: asyncApi(events, async, version),
  };
}

function openApi(
  services: readonly DescService[],
  details: readonly DescMessage[],
  schemas: Schemas,
  version: string,
): Json {
  const paths: Json = {};
  for (const service of services) {
    for (const method of service.methods)
      paths[`/${service.typeName}/${method.name}`] = pathItem(method, schemas);
  }
  const detailRefs = details.map((message) => schemas.ref(message));
  schemas.add("connect.error", {
    type: "object",
    description:
      "The Connect error body of every failed call (HTTP status by code: " +
      CONNECT_CODES.map(([code, status]) => `${code} ${status}`).join(", ") +
      ").",
    required: ["code"],
    properties: {
      code: { type: "string", enum: CONNECT_CODES.map(([code]) => code) },
      message: { type: "string", description: "What went wrong, for humans." },
      details: { type: "array", items: { $ref: "#/components/schemas/connect.error.detail" } },
    },
  });
  schemas.add("connect.error.detail", {
    type: "object",
    description: `One error detail, by \`type\`. ${details.map((message) => `${message.name}: ${comment(message)}`).join(" ")}`,
    required: ["type", "value"],
    properties: {
      type: { type: "string", enum: details.map((message) => message.typeName) },
      value: { type: "string", contentEncoding: "base64", description: "The detail in protobuf binary." },
      debug: { oneOf: detailRefs, description: "The same detail in protobuf JSON." },
    },
  });
  return {
    openapi: "3.1.0",
    info: {
      title: `${TITLE} RPC API`,
      version,
      description:
        "Every RPC as its Connect call: `POST /<package>.<Service>/<Method>` with the request in protobuf " +
        "JSON (`Content-Type: application/json`), answered with the response in protobuf JSON or a Connect " +
        "error. Read RPCs also answer Connect GET (`?encoding=json&message=<url-encoded JSON>`). The same " +
        "port serves gRPC and gRPC-Web. Protobuf JSON: fields in lowerCamelCase, 64-bit integers as " +
        'strings, enums by value name, timestamps in RFC 3339; fields at their default (0, "", false, ' +
        "empty, the first enum value) are left out of answers.",
    },
    tags: services.map((service) => described({ name: service.typeName }, comment(service))),
    paths,
    components: {
      schemas: schemas.all(),
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description:
            "An access token; its role claim decides what the caller may do (`./hexa token` mints one in development).",
        },
      },
      responses: {
        ConnectError: {
          description: "A Connect error.",
          content: { "application/json": { schema: { $ref: "#/components/schemas/connect.error" } } },
        },
      },
      parameters: {
        ConnectProtocolVersion: {
          name: "Connect-Protocol-Version",
          in: "header",
          required: false,
          schema: { type: "string", enum: ["1"] },
          description: "Marks the request as Connect; optional for this server.",
        },
        ConnectTimeout: {
          name: "Connect-Timeout-Ms",
          in: "header",
          required: false,
          schema: { type: "string", pattern: "^[0-9]{1,10}$" },
          description: "The caller's deadline in milliseconds.",
        },
      },
    },
    security: [{ bearer: [] }],
  };
}

function pathItem(method: DescMethod, schemas: Schemas): Json {
  const streaming = method.methodKind !== "unary";
  const contentType = streaming ? "application/connect+json" : "application/json";
  const request = schemas.ref(method.input);
  const response = schemas.ref(method.output);
  const operationId = `${method.parent.typeName}.${method.name}`;
  const description = [
    comment(method),
    streaming
      ? "A Connect streaming call: request and answers are enveloped messages (a flags byte and a 4-byte length before each JSON message)."
      : "",
  ]
    .filter(Boolean)
    .join("\n\n");
  const answers = {
    "200": { description: `${method.output.name}.`, content: { [contentType]: { schema: response } } },
    default: { $ref: "#/components/responses/ConnectError" },
  };
  const common = { tags: [method.parent.typeName], summary: method.name, description };
  const item: Json = {
    post: {
      ...common,
      operationId,
      parameters: [
        { $ref: "#/components/parameters/ConnectProtocolVersion" },
        { $ref: "#/components/parameters/ConnectTimeout" },
      ],
      requestBody: { required: true, content: { [contentType]: { schema: request } } },
      responses: answers,
    },
  };
  if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS && !streaming) {
    item.get = {
      ...common,
      operationId: `${operationId}.get`,
      description: `${description}\n\nConnect GET: the request rides in the query, so the answer may be cached.`,
      parameters: [
        {
          name: "message",
          in: "query",
          required: true,
          content: { "application/json": { schema: request } },
          description: `The ${method.input.name} in protobuf JSON, URL-encoded.`,
        },
        { name: "encoding", in: "query", required: true, schema: { type: "string", enum: ["json"] } },
        { name: "connect", in: "query", required: false, schema: { type: "string", enum: ["v1"] } },
      ],
      responses: answers,
    };
  }
  return item;
}

function asyncApi(events: readonly DescMessage[], schemas: Schemas, version: string): Json {
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  for (const event of events) {
    const id = asyncId(event.typeName);
    const context = event.file.proto.package.replace(/\.v\d+$/, "");
    messages[id] = {
      name: event.name,
      title: event.name,
      summary: comment(event),
      contentType: "application/json",
      headers: { $ref: "#/components/schemas/hexa_event_headers" },
      payload: schemas.ref(event),
      correlationId: { location: "$message.header#/Hexa-Aggregate-Id" },
    };
    channels[id] = {
      address: event.typeName,
      title: event.typeName,
      description: `${comment(event)}\n\nStream ${context.toUpperCase().replace(".", "_")} (subjects ${context}.>). A bus namespace prefixes the subject: \`<namespace>.${event.typeName}\`.`,
      messages: { [event.name]: { $ref: `#/components/messages/${id}` } },
    };
    operations[`${id}_publish`] = {
      action: "send",
      title: `${context} publishes ${event.name}`,
      summary: `Published by the ${context} context through its transactional outbox, once its change commits.`,
      channel: { $ref: `#/channels/${id}` },
      messages: [{ $ref: `#/channels/${id}/messages/${event.name}` }],
      "x-hexa-context": context,
    };
  }
  schemas.add("hexa_event_headers", EVENT_HEADERS);
  return {
    asyncapi: "3.0.0",
    info: {
      title: `${TITLE} events`,
      version,
      description:
        "The events of every context, published as protobuf JSON on NATS JetStream, one stream per " +
        "publishing context. Delivery is at least once; consumers are durable JetStream consumers " +
        "`<service>-<policy>` and idempotent by the event id. Each `receive` operation is one consumer.",
    },
    defaultContentType: "application/json",
    servers: {
      nats: { host: "localhost:4222", protocol: "nats", description: "NATS_URL of the services." },
    },
    channels,
    operations,
    components: { schemas: schemas.all(), messages },
  };
}

function eventsOf(file: DescFile): DescMessage[] {
  if (!file.name.endsWith("/events")) return [];
  const embedded = new Set(
    file.messages.flatMap((message) =>
      message.fields.flatMap((field) => (field.message ? [field.message.typeName] : [])),
    ),
  );
  return file.messages.filter((message) => !embedded.has(message.typeName));
}

/** AsyncAPI component and channel ids allow no dots. */
function asyncId(typeName: string): string {
  return typeName.replaceAll(".", "_");
}

function comment(desc: DescService | DescMethod | DescMessage | DescField | DescEnum): string {
  return (getComments(desc).leading ?? "").trim().replace(/\s*\n\s*/g, " ");
}

/** JSON Schemas of messages and enums in the protobuf JSON mapping, each written once. */
class Schemas {
  readonly #schemas: Record<string, Json> = {};
  /** The component id of a type (AsyncAPI allows no dots). */
  readonly idOf: (typeName: string) => string;

  constructor(idOf: (typeName: string) => string) {
    this.idOf = idOf;
  }

  add(name: string, schema: Json): void {
    this.#schemas[this.idOf(name)] = schema;
  }

  all(): Record<string, Json> {
    return Object.fromEntries(Object.entries(this.#schemas).sort(([a], [b]) => a.localeCompare(b)));
  }

  ref(desc: DescMessage | DescEnum): Json {
    const wellKnown = desc.kind === "message" ? wellKnownSchema(desc.typeName) : undefined;
    if (wellKnown) return wellKnown;
    const id = this.idOf(desc.typeName);
    if (!(id in this.#schemas)) {
      this.#schemas[id] = {}; // taken before the fields, so a recursive message ends
      this.#schemas[id] = desc.kind === "message" ? this.#message(desc) : enumSchema(desc);
    }
    return { $ref: `#/components/schemas/${id}` };
  }

  #message(message: DescMessage): Json {
    const properties: Json = {};
    for (const field of message.fields) {
      const schema = this.#field(field);
      const notes = [
        comment(field),
        field.oneof ? `One of ${field.oneof.fields.map((f) => f.jsonName).join(", ")}.` : "",
      ];
      const description = notes.filter(Boolean).join(" ");
      properties[field.jsonName] = described(schema, description);
    }
    return described(
      { type: "object", title: message.name, properties, additionalProperties: false },
      comment(message),
    );
  }

  #field(field: DescField): Json {
    switch (field.fieldKind) {
      case "scalar":
        return scalarSchema(field.scalar);
      case "enum":
        return this.ref(field.enum);
      case "message":
        return this.ref(field.message);
      case "list":
        return {
          type: "array",
          items:
            field.listKind === "scalar"
              ? scalarSchema(field.scalar)
              : field.listKind === "enum"
                ? this.ref(field.enum)
                : this.ref(field.message),
        };
      case "map":
        return {
          type: "object",
          additionalProperties:
            field.mapKind === "scalar"
              ? scalarSchema(field.scalar)
              : field.mapKind === "enum"
                ? this.ref(field.enum)
                : this.ref(field.message),
        };
    }
  }
}

function enumSchema(desc: DescEnum): Json {
  return described(
    { type: "string", title: desc.name, enum: desc.values.map((value) => value.name) },
    comment(desc),
  );
}

/** The schema with its description, when there is one. */
function described(schema: Json, description: string): Json {
  return description ? { ...schema, description } : schema;
}

function scalarSchema(type: ScalarType): Json {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number" };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    default:
      return { type: "integer", format: "int32" };
  }
}

/** The well-known types, which protobuf JSON writes in their own forms. */
function wellKnownSchema(typeName: string): Json | undefined {
  switch (typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$" };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.FieldMask":
      return { type: "string" };
    case "google.protobuf.StringValue":
      return { type: "string" };
    case "google.protobuf.BoolValue":
      return { type: "boolean" };
    case "google.protobuf.Int32Value":
    case "google.protobuf.UInt32Value":
      return { type: "integer" };
    case "google.protobuf.Int64Value":
    case "google.protobuf.UInt64Value":
      return { type: "string", pattern: "^-?[0-9]+$" };
    case "google.protobuf.DoubleValue":
    case "google.protobuf.FloatValue":
      return { type: "number" };
    default:
      return undefined;
  }
}

const plugin: Plugin = {
  name: "protoc-gen-hexa-api",
  version: "v1",
  run(request) {
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: request.protoFile }));
    const files = request.fileToGenerate.flatMap((name) => {
      const file = registry.getFile(name);
      return file ? [file] : [];
    });
    // The contract's version is its packages' (`trial.order.v1`, …).
    const { openapi, asyncapi } = generate(files, "v1");
    return create(CodeGeneratorResponseSchema, {
      supportedFeatures: BigInt(CodeGeneratorResponse_Feature.PROTO3_OPTIONAL),
      file: [
        { name: "openapi.json", content: `${JSON.stringify(openapi, null, 2)}\n` },
        { name: "asyncapi.json", content: `${JSON.stringify(asyncapi, null, 2)}\n` },
      ],
    });
  },
};

runNodeJs(plugin);
