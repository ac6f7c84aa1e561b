import type {
  DescMessage,
  DescMethodUnary,
  DescService,
  MessageInitShape,
  MessageShape,
} from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { authorization, type TokenOption, tokenOf } from "./auth.ts";

/** What a harness client sends as the caller's bearer token; default: an admin token. */
export interface ClientOptions {
  readonly token?: TokenOption;
}

/** A generated Connect client speaking Connect's JSON mode over HTTP/1.1, as a REST caller would. */
export function connectJsonClient<Service extends DescService>(
  service: Service,
  baseUrl: string,
  options: ClientOptions = {},
): Client<Service> {
  return createClient(
    service,
    createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors: [authorization(options.token)],
    }),
  );
}

/** What a plain @grpc/grpc-js caller sees: the response, or the gRPC status code and details. */
export type GrpcResult<Output> =
  | { ok: true; response: Output }
  | { ok: false; code: grpc.status; details: string; metadata: grpc.Metadata };

/**
 * A plain @grpc/grpc-js client (HTTP/2, the gRPC wire protocol) for any unary method, with
 * protobuf-es doing the (de)serialisation: what a polyglot gRPC caller would use.
 */
export class GrpcJsClient {
  readonly #client: grpc.Client;
  readonly #token: TokenOption | undefined;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.#client = new grpc.Client(new URL(baseUrl).host, grpc.credentials.createInsecure());
    this.#token = options.token;
  }

  call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
  ): Promise<GrpcResult<MessageShape<O>>> {
    return tokenOf(this.#token).then((token) => this.#call(method, request, token));
  }

  #call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
    token: string | undefined,
  ): Promise<GrpcResult<MessageShape<O>>> {
    const metadata = new grpc.Metadata();
    if (token) metadata.set("authorization", `Bearer ${token}`);
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(
        `/${method.parent.typeName}/${method.name}`,
        (message: MessageShape<I>) => Buffer.from(toBinary(method.input, message)),
        (bytes: Buffer) => fromBinary(method.output, bytes),
        create(method.input, request),
        metadata,
        { deadline: Date.now() + 10_000 },
        (error, response) => {
          if (error)
            resolve({ ok: false, code: error.code, details: error.details, metadata: error.metadata });
          else if (response) resolve({ ok: true, response });
        },
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** The error a call was refused with; fails the test when the call was accepted. */
export async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    () => undefined,
    (caught: unknown) => ConnectError.from(caught),
  );
  if (!outcome) throw new Error("the call was accepted");
  return outcome;
}
