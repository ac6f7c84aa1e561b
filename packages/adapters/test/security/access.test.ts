import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { services } from "@hexa/adapters/services";
import { ROLES, type Role } from "@hexa/core/shared";
import { DashboardService } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { ReservationService } from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { connectJsonClient, eventually, type ModulesInProcess, startModules, testToken } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authCodes, codeOf, foreignToken, type Rpc, rpcsOf } from "./support.ts";

const modules = [...services.values()];
const rpcs = rpcsOf(modules);

/** The request a caller with `role` sends: its own id in the owner field when it has one. */
function requestFor(rpc: Rpc, subject: string, role: Role): Record<string, unknown> {
  const field = rpc.access.own?.field;
  return field && rpc.access.own?.role === role ? { [field]: subject } : {};
}

describe("every application RPC requires a token and a declared role", () => {
  let app: ModulesInProcess;

  beforeAll(async () => {
    app = await startModules(modules);
  });

  afterAll(async () => {
    await app?.stop();
  });

  it("covers every method of every mounted application service", () => {
    const mounted = modules.flatMap((module) => module.access ?? []).flatMap((a) => a.service.methods);
    expect(rpcs.length).toBe(mounted.length);
    expect(new Set(rpcs.map((rpc) => rpc.service.typeName)).size).toBe(10);
    expect(rpcs.length).toBeGreaterThanOrEqual(48);
  });

  for (const rpc of rpcs) {
    it(`${rpc.procedure}`, async () => {
      const allowed = new Set<Role>(["admin", ...rpc.access.roles]);
      const own = rpc.access.own?.role;
      const someRole: Role = rpc.access.roles[0] ?? own ?? "admin";
      const call = (token: string | undefined, request: Record<string, unknown> = {}) =>
        codeOf(app.url, rpc, request, token);

      // Who the caller is cannot be established: UNAUTHENTICATED.
      expect(await call(undefined)).toBe(Code.Unauthenticated);
      expect(await call("not-a-jwt")).toBe(Code.Unauthenticated);
      expect(await call(await testToken({ roles: [someRole], ttlSeconds: -60 }))).toBe(Code.Unauthenticated);
      expect(await call(await foreignToken([someRole]))).toBe(Code.Unauthenticated);
      expect(await call(await testToken({ roles: [someRole], audience: "another-api" }))).toBe(
        Code.Unauthenticated,
      );
      expect(await call(await testToken({ roles: [someRole], issuer: "someone-else" }))).toBe(
        Code.Unauthenticated,
      );

      // A role the declaration does not name: PERMISSION_DENIED.
      for (const role of ROLES.filter((r) => !allowed.has(r) && r !== own)) {
        expect(
          await call(await testToken({ roles: [role], subject: "u1" }), requestFor(rpc, "u1", role)),
          role,
        ).toBe(Code.PermissionDenied);
      }

      // A role it names, or the owner: whatever comes back, it is not an authorization refusal.
      for (const role of [...allowed, ...(own ? [own] : [])]) {
        const code = await call(
          await testToken({ roles: [role], subject: "u1" }),
          requestFor(rpc, "u1", role),
        );
        expect(authCodes.has(code), `${role} got ${code === undefined ? "ok" : Code[code]}`).toBe(false);
      }

      // Someone else's resource, named in the request: PERMISSION_DENIED.
      const field = rpc.access.own?.field;
      if (own && field) {
        expect(await call(await testToken({ roles: [own], subject: "u1" }), { [field]: "u2" })).toBe(
          Code.PermissionDenied,
        );
        // Left out, the owner field means the caller's own: not an authorization refusal.
        const code = await call(await testToken({ roles: [own], subject: "u1" }), {});
        expect(
          authCodes.has(code),
          `${own} without ${field} got ${code === undefined ? "ok" : Code[code]}`,
        ).toBe(false);
      }
    });
  }

  it("checks the owner of a resource loaded by id: orders and the dashboard's view of them", async () => {
    const admin = connectJsonClient(MarketingService, app.url);
    const alice = connectJsonClient(OrderService, app.url, {
      token: () => testToken({ roles: ["customer"], subject: "alice" }),
    });
    const bob = connectJsonClient(OrderService, app.url, {
      token: () => testToken({ roles: ["customer"], subject: "bob" }),
    });
    await connectJsonClient(WarehouseService, app.url).restock({ productId: "p-owner", quantity: 10 });
    const { plan } = await admin.startTrialPlan({ productId: "p-owner", name: "owned", trialDays: 7 });
    const order = await eventually(
      async () =>
        (
          await alice.placeOrder({
            customerId: "alice",
            planId: plan?.planId ?? "",
            quantity: 1,
            address: "1 Main St",
          })
        ).order,
    );
    const orderId = order?.orderId ?? "";
    expect((await alice.getOrder({ orderId })).order?.customerId).toBe("alice");
    for (const attempt of [
      () => bob.getOrder({ orderId }),
      () => bob.cancelOrder({ orderId }),
      () => bob.requestReturn({ orderId }),
      () => bob.placeOrder({ customerId: "alice", planId: plan?.planId ?? "", quantity: 1, address: "x" }),
    ]) {
      await expect(attempt()).rejects.toMatchObject({ code: Code.PermissionDenied });
    }
    const bobsView = connectJsonClient(DashboardService, app.url, {
      token: () => testToken({ roles: ["customer"], subject: "bob" }),
    });
    const alicesView = connectJsonClient(DashboardService, app.url, {
      token: () => testToken({ roles: ["customer"], subject: "alice" }),
    });
    await eventually(() => alicesView.getOrderStatus({ orderId }));
    await expect(bobsView.getOrderStatus({ orderId })).rejects.toMatchObject({ code: Code.PermissionDenied });
    expect((await alice.cancelOrder({ orderId })).order?.orderId).toBe(orderId);
  });

  it("checks the owner of a reservation loaded by id", async () => {
    const inventory = connectJsonClient(InventoryService, app.url);
    const as = (subject: string) =>
      createClient(
        ReservationService,
        createConnectTransport({
          baseUrl: app.url,
          httpVersion: "1.1",
          interceptors: [
            (next) => async (request) => {
              request.header.set(
                "authorization",
                `Bearer ${await testToken({ roles: ["person"], subject })}`,
              );
              return next(request);
            },
          ],
        }),
      );
    const { hospital } = await inventory.registerHospital({ name: "Owner Hospital", dailyCapacity: 10 });
    const { vaccine } = await inventory.registerVaccine({ name: "Owner Vax", vials: 10, dosesRequired: 1 });
    const hospitalId = hospital?.hospitalId ?? "";
    const vaccineId = vaccine?.vaccineId ?? "";
    const { reservation } = await eventually(async () => {
      const answer = await as("alice").joinWaitlist({ personId: "alice", hospitalId, vaccineId });
      if (!answer.reservation) throw new Error("no reservation yet");
      return answer;
    });
    const reservationId = reservation?.reservationId ?? "";
    expect((await as("alice").getReservation({ reservationId })).reservation?.personId).toBe("alice");
    await expect(as("bob").getReservation({ reservationId })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    await expect(as("bob").cancelReservation({ reservationId })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    await expect(as("bob").listReservations({ personId: "alice" })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    const day = new Date().toISOString().slice(0, 10);
    await expect(as("bob").listReservations({ hospitalId, date: day })).rejects.toMatchObject({
      code: Code.PermissionDenied,
    });
    expect((await as("alice").cancelReservation({ reservationId })).reservation?.reservationId).toBe(
      reservationId,
    );
  });
});

describe("a service whose RPCs have no access declaration", () => {
  it("does not start, naming the RPCs", async () => {
    const { orderModule } = await import("@hexa/adapters/trial/order/module");
    const undeclared = { ...orderModule, name: "undeclared", access: [] };
    await expect(startModules([undeclared])).rejects.toThrow(
      /no access declared for \/trial\.order\.v1\.OrderService\/PlaceOrder/,
    );
  });
});
