/**
 * gRPC server reflection (`grpc.reflection.v1` and the older `v1alpha`, which some tools still
 * ask first), answered from the file descriptors protobuf-es embeds in the generated code.
 * Lets grpcurl, buf curl and Postman list the services and call them without local .proto files.
 */

import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflectionRequest as ServerReflectionRequestV1,
  ServerReflection as ServerReflectionV1,
} from "@hexa/proto/grpc/reflection/v1/reflection_pb";
import {
  type ServerReflectionRequest as ServerReflectionRequestV1alpha,
  ServerReflection as ServerReflectionV1alpha,
} from "@hexa/proto/grpc/reflection/v1alpha/reflection_pb";

/** Full names of the two reflection services. */
export const reflectionServiceNames: readonly string[] = [
  ServerReflectionV1.typeName,
  ServerReflectionV1alpha.typeName,
];

/** gRPC status codes carried in `ErrorResponse.error_code`. */
const grpcStatus = { invalidArgument: 3, notFound: 5 } as const;

/** Everything reflection can be asked about, indexed once from the served services' files. */
export class DescriptorIndex {
  readonly serviceNames: readonly string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #messages = new Set<string>();
  /** extendee full name -> field number -> file declaring the extension */
  readonly #extensions = new Map<string, Map<number, DescFile>>();
  readonly #encoded = new Map<DescFile, Uint8Array>();

  constructor(services: readonly DescService[]) {
    this.serviceNames = [...new Set(services.map((service) => service.typeName))].sort();
    for (const service of services) {
      this.#addFile(service.file);
    }
  }

  /** The file registered under its proto path, e.g. "trial/marketing/v1/marketing.proto". */
  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  /** The file declaring a service, method, message, field, enum, enum value or extension. */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  fileContainingExtension(extendee: string, number: number): DescFile | undefined {
    return this.#extensions.get(extendee)?.get(number);
  }

  /** Extension numbers known for a message, or undefined when the message is unknown. */
  extensionNumbers(messageName: string): number[] | undefined {
    if (!this.#messages.has(messageName)) {
      return undefined;
    }
    return [...(this.#extensions.get(messageName)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** The serialized FileDescriptorProtos of a file and all it imports, the file itself first. */
  encodeWithDependencies(file: DescFile): Uint8Array[] {
    const ordered: DescFile[] = [];
    const seen = new Set<DescFile>();
    const queue = [file];
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (seen.has(next)) {
        continue;
      }
      seen.add(next);
      ordered.push(next);
      queue.push(...next.dependencies);
    }
    return ordered.map((each) => this.#encode(each));
  }

  #encode(file: DescFile): Uint8Array {
    let bytes = this.#encoded.get(file);
    if (!bytes) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#encoded.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    const name = file.proto.name;
    if (this.#files.has(name)) {
      return;
    }
    this.#files.set(name, file);
    for (const type of nestedTypes(file)) {
      this.#symbols.set(type.typeName, file);
      switch (type.kind) {
        case "service":
          for (const method of type.methods) {
            this.#symbols.set(`${type.typeName}.${method.name}`, file);
          }
          break;
        case "message":
          this.#messages.add(type.typeName);
          for (const field of type.fields) {
            this.#symbols.set(`${type.typeName}.${field.name}`, file);
          }
          break;
        case "enum": {
          // Enum values are scoped like siblings of their enum (C++ scoping rules).
          const scope = type.typeName.slice(0, Math.max(0, type.typeName.lastIndexOf(".")));
          for (const value of type.values) {
            this.#symbols.set(scope ? `${scope}.${value.name}` : value.name, file);
          }
          break;
        }
        case "extension": {
          let byNumber = this.#extensions.get(type.extendee.typeName);
          if (!byNumber) {
            byNumber = new Map();
            this.#extensions.set(type.extendee.typeName, byNumber);
          }
          byNumber.set(type.number, file);
          break;
        }
      }
    }
    for (const dependency of file.dependencies) {
      this.#addFile(dependency);
    }
  }
}

/** The answer to one reflection request, in the shape both protocol versions share. */
type MessageResponse =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

type MessageRequest =
  | ServerReflectionRequestV1["messageRequest"]
  | ServerReflectionRequestV1alpha["messageRequest"];

/** Answers one request of the reflection protocol from the index. */
export function answerReflectionRequest(index: DescriptorIndex, request: MessageRequest): MessageResponse {
  const files = (file: DescFile | undefined, what: string): MessageResponse =>
    file
      ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.encodeWithDependencies(file) } }
      : notFound(what);
  switch (request.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: index.serviceNames.map((name) => ({ name })) },
      };
    case "fileByFilename":
      return files(index.fileByName(request.value), `file ${request.value}`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(request.value), `symbol ${request.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      return files(
        index.fileContainingExtension(containingType, extensionNumber),
        `extension ${extensionNumber} of ${containingType}`,
      );
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(request.value);
      return numbers
        ? {
            case: "allExtensionNumbersResponse",
            value: { baseTypeName: request.value, extensionNumber: numbers },
          }
        : notFound(`type ${request.value}`);
    }
    default:
      return {
        case: "errorResponse",
        value: {
          errorCode: grpcStatus.invalidArgument,
          errorMessage: "the request names nothing to look up",
        },
      };
  }
}

function notFound(what: string): MessageResponse {
  return {
    case: "errorResponse",
    value: { errorCode: grpcStatus.notFound, errorMessage: `${what} not found` },
  };
}

/**
 * Mounts both reflection services. `services` is read on the first request, so it may list
 * services mounted after this call (the reflection services themselves included).
 */
export function mountReflection(router: ConnectRouter, services: () => readonly DescService[]): void {
  let index: DescriptorIndex | undefined;
  const getIndex = () => {
    index ??= new DescriptorIndex(services());
    return index;
  };
  const v1: ServiceImpl<typeof ServerReflectionV1> = {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answerReflectionRequest(getIndex(), request.messageRequest),
        };
      }
    },
  };
  const v1alpha: ServiceImpl<typeof ServerReflectionV1alpha> = {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answerReflectionRequest(getIndex(), request.messageRequest),
        };
      }
    },
  };
  router.service(ServerReflectionV1, v1);
  router.service(ServerReflectionV1alpha, v1alpha);
}
