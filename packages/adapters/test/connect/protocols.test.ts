/**
 * One port, every protocol: the same MarketingService answers Connect JSON (plain fetch),
 * Connect binary and gRPC-Web over HTTP/1.1, gRPC over HTTP/2 through connect-node and through
 * a plain @grpc/grpc-js client. Domain errors arrive with their code, message and detail.
 */

import net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import {
  MarketingService,
  type StartTrialPlanRequest,
  StartTrialPlanRequestSchema,
  type StartTrialPlanResponse,
  StartTrialPlanResponseSchema,
  TrialPlanStatus,
} from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeGrpcStatusDetails } from "./grpc-status.ts";
import { SECRET, startTestServer, type TestServer } from "./support.ts";

const START = "/trial.marketing.v1.MarketingService/StartTrialPlan";

let t: TestServer;
let url: string;

beforeAll(async () => {
  t = await startTestServer();
  url = t.server.url;
});

afterAll(async () => {
  await t.server.close(1000);
});

function postJson(path: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** Calls StartTrialPlan through @grpc/grpc-js, serializing with protobuf-es. */
function grpcJsStart(request: StartTrialPlanRequest, metadata = new grpc.Metadata()) {
  const client = new grpc.Client(`127.0.0.1:${t.server.port}`, grpc.credentials.createInsecure());
  return new Promise<StartTrialPlanResponse>((resolve, reject) => {
    client.makeUnaryRequest(
      START,
      (message: StartTrialPlanRequest) => Buffer.from(toBinary(StartTrialPlanRequestSchema, message)),
      (bytes: Buffer) => fromBinary(StartTrialPlanResponseSchema, bytes),
      request,
      metadata,
      (error, value) => (error || !value ? reject(error) : resolve(value)),
    );
  }).finally(() => client.close());
}

function unexpectedSuccess(): never {
  throw new Error("the call succeeded but was expected to fail");
}

describe("one port serves every protocol", () => {
  it("answers Connect JSON from a plain fetch POST", async () => {
    const res = await postJson(
      START,
      JSON.stringify({ productId: "product-1", name: "Summer", trialDays: 14 }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({
      plan: {
        planId: "plan-1",
        productId: "product-1",
        name: "Summer",
        trialDays: 14,
        status: "TRIAL_PLAN_STATUS_ACTIVE",
        startedAt: "2030-01-02T03:04:05Z",
      },
    });
  });

  const transports: Array<[string, () => Transport]> = [
    ["Connect binary over HTTP/1.1", () => createConnectTransport({ baseUrl: url, httpVersion: "1.1" })],
    [
      "Connect JSON over HTTP/1.1",
      () => createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }),
    ],
    ["Connect binary over HTTP/2", () => createConnectTransport({ baseUrl: url, httpVersion: "2" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" })],
    ["gRPC over HTTP/2 (connect-node)", () => createGrpcTransport({ baseUrl: url })],
  ];

  it.each(transports)("answers %s", async (_name, transport) => {
    const client = createClient(MarketingService, transport());
    const reply = await client.startTrialPlan({ productId: "product-1", name: "Summer", trialDays: 14 });
    expect(reply.plan?.planId).toBe("plan-1");
    expect(reply.plan?.status).toBe(TrialPlanStatus.ACTIVE);

    const error = await client.getTrialPlan({ planId: "plan-9" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    const connectError = error as ConnectError;
    expect(connectError.code).toBe(Code.NotFound);
    expect(connectError.rawMessage).toBe("TrialPlan plan-9 was not found");
    expect(connectError.findDetails(ResourceInfoSchema)).toMatchObject([
      { resourceType: "TrialPlan", resourceId: "plan-9" },
    ]);
  });

  it("answers a plain @grpc/grpc-js client on the same port", async () => {
    const reply = await grpcJsStart(
      create(StartTrialPlanRequestSchema, { productId: "product-1", name: "Summer", trialDays: 14 }),
    );
    expect(reply.plan?.planId).toBe("plan-1");
    expect(reply.plan?.trialDays).toBe(14);
  });
});

/** Writes `parts` to a new connection with pauses between them; returns what came back. */
function writeSlowly(parts: Array<string | Buffer>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: t.server.port });
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("error", reject);
    socket.on("connect", async () => {
      for (const part of parts) {
        socket.write(part);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 50));
      socket.destroy();
      resolve(Buffer.concat(received));
    });
  });
}

describe("sorting connections by their first bytes", () => {
  it("recognises the HTTP/2 preface and an HTTP/1.1 request even when they arrive in pieces", async () => {
    const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const emptySettingsFrame = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const h2 = await writeSlowly([
      preface.slice(0, 1),
      preface.slice(1, 5),
      preface.slice(5),
      emptySettingsFrame,
    ]);
    expect(h2[3]).toBe(4); // the server's first frame is its SETTINGS frame

    // "P" could still begin the preface; "PO" cannot.
    const request = "POST /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n";
    const h1 = await writeSlowly([request.slice(0, 1), request.slice(1, 2), request.slice(2)]);
    expect(h1.toString("latin1")).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
  });
});

describe("domain errors become Connect errors", () => {
  const client = () =>
    createClient(MarketingService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));

  it("InvalidArgument -> invalid_argument naming the field, with a FieldViolation", async () => {
    const error = await client()
      .startTrialPlan({ productId: "product-1", name: "Summer", trialDays: 0 })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe("trialDays: must be a whole number from 1 to 365");
    expect(error.findDetails(FieldViolationSchema)).toMatchObject([
      { field: "trialDays", description: "must be a whole number from 1 to 365" },
    ]);
  });

  it("FailedPrecondition -> failed_precondition naming the rule, with a PreconditionFailure", async () => {
    const error = await client()
      .endTrialPlan({ planId: "plan-ended" })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe("plan-must-be-active: the plan has already ended");
    expect(error.findDetails(PreconditionFailureSchema)).toMatchObject([
      { rule: "plan-must-be-active", description: "the plan has already ended" },
    ]);
  });

  it("reaches a plain fetch caller as Connect JSON with the detail", async () => {
    const res = await postJson(
      START,
      JSON.stringify({ productId: "product-1", name: "Summer", trialDays: 400 }),
    );
    expect(res.status).toBe(400);
    const body = (await res.json()) as {
      code: string;
      message: string;
      details: Array<{ type: string; value: string }>;
    };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toBe("trialDays: must be a whole number from 1 to 365");
    expect(body.details[0]?.type).toBe("hexa.common.v1.FieldViolation");
    const detail = fromBinary(FieldViolationSchema, base64Decode(body.details[0]?.value ?? ""));
    expect(detail.field).toBe("trialDays");
  });

  it("reaches a @grpc/grpc-js caller with the status code and a decodable detail", async () => {
    const error = (await grpcJsStart(
      create(StartTrialPlanRequestSchema, { productId: "product-1", name: "Summer", trialDays: 0 }),
    ).catch((e: unknown) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe("trialDays: must be a whole number from 1 to 365");
    const [bin] = error.metadata.get("grpc-status-details-bin");
    const details = decodeGrpcStatusDetails(bin as Buffer);
    expect(details.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(details.details.map((any) => any.typeUrl)).toEqual([
      "type.googleapis.com/hexa.common.v1.FieldViolation",
    ]);
    const violation = fromBinary(FieldViolationSchema, details.details[0]?.value ?? new Uint8Array());
    expect(violation).toMatchObject({
      field: "trialDays",
      description: "must be a whole number from 1 to 365",
    });
  });

  it("a malformed JSON body -> invalid_argument", async () => {
    const res = await postJson(START, '{"productId": "product-1", "trialDays": ');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
    const line = t.logs.lines.findLast((l) => l.msg === "rpc" && l.procedure === START);
    expect(line).toMatchObject({ code: "invalid_argument", protocol: "connect" });
  });

  it("an unexpected error -> internal with a generic message; the stack is logged, nothing leaks", async () => {
    const res = await postJson(START, JSON.stringify({ productId: "boom", name: "Summer", trialDays: 14 }));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ code: "internal", message: "internal error" });
    expect(text).not.toContain("hunter2");

    const error = await client()
      .startTrialPlan({ productId: "boom", name: "Summer", trialDays: 14 })
      .then(unexpectedSuccess, (e: unknown) => ConnectError.from(e));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe("internal error");
    expect(error.details).toEqual([]);

    const logged = t.logs.lines.find((l) => l.msg === "unexpected error in handler");
    expect(logged).toMatchObject({ procedure: START, level: 50 });
    expect((logged?.err as { stack?: string } | undefined)?.stack).toContain(SECRET);
  });
});

describe("logging", () => {
  it("writes one JSON line per call with procedure, code and duration, never the body or Authorization", async () => {
    const before = t.logs.lines.length;
    const res = await postJson(
      START,
      JSON.stringify({ productId: "product-1", name: "Body-Marker-7731", trialDays: 7 }),
      {
        authorization: "Bearer token-Secret-4242",
      },
    );
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const lines = t.logs.lines.slice(before).filter((l) => l.msg === "rpc");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ procedure: START, protocol: "connect", code: "ok", level: 30 });
    expect(typeof lines[0]?.durationMs).toBe("number");

    const error = await grpcJsStart(
      create(StartTrialPlanRequestSchema, { productId: "product-1", name: "Body-Marker-7731", trialDays: 0 }),
      (() => {
        const metadata = new grpc.Metadata();
        metadata.set("authorization", "Bearer token-Secret-4242");
        return metadata;
      })(),
    ).catch((e: unknown) => e);
    expect(error).toBeTruthy();
    const grpcLine = t.logs.lines.findLast((l) => l.msg === "rpc");
    expect(grpcLine).toMatchObject({ procedure: START, protocol: "grpc", code: "invalid_argument" });

    expect(t.logs.raw()).not.toContain("Body-Marker-7731");
    expect(t.logs.raw()).not.toContain("token-Secret-4242");
  });
});

describe("plain HTTP routes beside the RPCs", () => {
  it("serves a route's answer, and answers 500 for a route that throws while the RPCs keep working", async () => {
    const routed = await startTestServer({
      httpRoutes: [
        (req, res) => {
          if (req.url !== "/hello") return false;
          res.end("hello");
          return true;
        },
        (req) => {
          if (req.url === "/broken") throw new Error("this route is broken");
          return false;
        },
      ],
    });
    try {
      const hello = await fetch(`${routed.server.url}/hello`);
      expect([hello.status, await hello.text()]).toEqual([200, "hello"]);
      const broken = await fetch(`${routed.server.url}/broken`);
      expect(broken.status).toBe(500);
      expect(routed.logs.lines.some((line) => line.msg === "http route failed")).toBe(true);
      const call = await fetch(`${routed.server.url}${START}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ productId: "p", name: "Trial", trialDays: 7 }),
      });
      expect(call.status).toBe(200);
    } finally {
      await routed.server.close(500);
    }
  });
});
