/**
 * gRPC server reflection: buf curl lists the services and calls one knowing nothing but the URL,
 * and both protocol versions answer file and symbol lookups with complete descriptor sets.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type ServerReflectionResponse as ServerReflectionResponseV1,
  ServerReflection as ServerReflectionV1,
} from "@hexa/proto/grpc/reflection/v1/reflection_pb";
import {
  type ServerReflectionResponse as ServerReflectionResponseV1alpha,
  ServerReflection as ServerReflectionV1alpha,
} from "@hexa/proto/grpc/reflection/v1alpha/reflection_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support.ts";

const run = promisify(execFile);
const buf = fileURLToPath(new URL("../../../../node_modules/.bin/buf", import.meta.url));

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});

afterAll(async () => {
  await t.server.close(1000);
});

function bufCurl(...args: string[]) {
  return run(buf, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 10_000 });
}

describe("buf curl, with reflection only", () => {
  it("lists the services", async () => {
    const { stdout } = await bufCurl("--list-services", t.server.url);
    expect(stdout.trim().split("\n").sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "trial.marketing.v1.MarketingService",
    ]);
  });

  it("calls a method", async () => {
    const { stdout } = await bufCurl(
      "-d",
      '{"productId":"product-1","name":"Summer","trialDays":14}',
      `${t.server.url}/trial.marketing.v1.MarketingService/StartTrialPlan`,
    );
    expect(JSON.parse(stdout)).toMatchObject({
      plan: { planId: "plan-1", name: "Summer", trialDays: 14, status: "TRIAL_PLAN_STATUS_ACTIVE" },
    });
  });
});

/** The lookups these tests make; the same shape in both protocol versions. */
type Lookup =
  | { case: "listServices"; value: string }
  | { case: "fileByFilename"; value: string }
  | { case: "fileContainingSymbol"; value: string };

type Response = ServerReflectionResponseV1 | ServerReflectionResponseV1alpha;

/** Sends the lookups on one reflection stream and collects the answers. */
async function ask(version: "v1" | "v1alpha", lookups: Lookup[]): Promise<Response[]> {
  const transport = createGrpcTransport({ baseUrl: t.server.url });
  async function* requests() {
    for (const messageRequest of lookups) {
      yield { messageRequest };
    }
  }
  const stream =
    version === "v1"
      ? createClient(ServerReflectionV1, transport).serverReflectionInfo(requests())
      : createClient(ServerReflectionV1alpha, transport).serverReflectionInfo(requests());
  const responses: Response[] = [];
  for await (const response of stream) {
    responses.push(response);
  }
  return responses;
}

function files(response: Response | undefined) {
  if (response?.messageResponse.case !== "fileDescriptorResponse") {
    throw new Error(`expected files, got ${response?.messageResponse.case}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map((bytes) =>
    fromBinary(FileDescriptorProtoSchema, bytes),
  );
}

describe.each(["v1", "v1alpha"] as const)("reflection %s", (version) => {
  it("answers a symbol with its file and every file it imports, enough to build a registry", async () => {
    const [byService, byMethod, byEnum, byMessage] = await ask(version, [
      { case: "fileContainingSymbol", value: "trial.marketing.v1.MarketingService" },
      { case: "fileContainingSymbol", value: "trial.marketing.v1.MarketingService.EndTrialPlan" },
      { case: "fileContainingSymbol", value: "trial.marketing.v1.TrialPlanStatus" },
      { case: "fileContainingSymbol", value: "google.protobuf.Timestamp" },
    ]);
    const serviceFiles = files(byService);
    expect(serviceFiles.map((file) => file.name)).toEqual([
      "trial/marketing/v1/marketing.proto",
      "google/protobuf/timestamp.proto",
    ]);
    expect(files(byMethod)[0]?.name).toBe("trial/marketing/v1/marketing.proto");
    expect(files(byEnum)[0]?.name).toBe("trial/marketing/v1/marketing.proto");
    expect(files(byMessage).map((file) => file.name)).toEqual(["google/protobuf/timestamp.proto"]);

    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: serviceFiles.reverse() }));
    expect(registry.getService("trial.marketing.v1.MarketingService")?.methods.map((m) => m.name)).toEqual([
      "StartTrialPlan",
      "EndTrialPlan",
      "GetTrialPlan",
      "ListTrialPlans",
    ]);
    expect(registry.getMessage("trial.marketing.v1.TrialPlan")?.field.startedAt?.message?.typeName).toBe(
      "google.protobuf.Timestamp",
    );
  });

  it("lists services, finds files by name and reports unknown names as NOT_FOUND", async () => {
    const [list, byName, unknownSymbol, unknownFile] = await ask(version, [
      { case: "listServices", value: "*" },
      { case: "fileByFilename", value: "grpc/health/v1/health.proto" },
      { case: "fileContainingSymbol", value: "trial.marketing.v1.NoSuchThing" },
      { case: "fileByFilename", value: "no/such/file.proto" },
    ]);
    expect(list?.messageResponse.case).toBe("listServicesResponse");
    const names =
      list?.messageResponse.case === "listServicesResponse"
        ? list.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names).toContain("trial.marketing.v1.MarketingService");
    expect(names).toContain("grpc.health.v1.Health");
    expect(files(byName).map((file) => file.name)).toEqual(["grpc/health/v1/health.proto"]);
    for (const response of [unknownSymbol, unknownFile]) {
      expect(response?.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: 5 } });
    }
    expect(unknownSymbol?.originalRequest?.messageRequest).toEqual({
      case: "fileContainingSymbol",
      value: "trial.marketing.v1.NoSuchThing",
    });
  });
});
