import { FailedPrecondition, InvalidArgument, NotFound } from "@hexa/core/shared";
import {
  completeDelivery,
  completePickup,
  type DeliveryEvent,
  type DeliveryPorts,
  getShipment,
  Shipment,
  type ShipmentQuery,
  type ShipmentState,
  type Shipments,
  whenOrderCancelled,
  whenReturnRequested,
  whenStockReserved,
} from "@hexa/core/trial/delivery";
import { beforeEach, describe, expect, it } from "vitest";
import { refusal, testContext } from "../support.ts";

/** Shipments in memory, in the work list's order; `saves` counts writes, `events` collects what was recorded. */
class ShipmentsInMemory implements Shipments {
  readonly saved = new Map<string, ShipmentState>();
  readonly events: DeliveryEvent[] = [];
  saves = 0;
  async get(orderId: string) {
    const state = this.saved.get(orderId);
    return state ? Shipment.restore(state) : undefined;
  }
  async save(shipment: Shipment) {
    this.saves += 1;
    this.saved.set(shipment.id, shipment.state);
    this.events.push(...shipment.pullEvents());
  }
  async list(query: ShipmentQuery) {
    const key = (s: { recordedAt: Date; orderId: string }) => `${s.recordedAt.toISOString()} ${s.orderId}`;
    return [...this.saved.values()]
      .filter((s) => !query.deliveryStatus || s.deliveryStatus === query.deliveryStatus)
      .filter((s) => !query.pickupStatus || s.pickupStatus === query.pickupStatus)
      .filter((s) => !query.after || key(s) > key(query.after))
      .sort((a, b) => key(a).localeCompare(key(b)))
      .slice(0, query.limit);
  }
}

function deliveryPorts() {
  return { ...testContext(), shipments: new ShipmentsInMemory() };
}

const ORDER = "0196a000-0000-7000-8000-0000000000a1";
const reserved = {
  orderId: ORDER,
  customerId: "customer-1",
  productId: "espresso-machine",
  quantity: 2,
  address: "1 Main St",
};
const cancelled = { orderId: ORDER, productId: "espresso-machine", quantity: 2 };
const T0 = new Date("2026-03-01T09:00:00.000Z");
const T1 = new Date("2026-03-01T10:00:00.000Z");
const T2 = new Date("2026-03-01T11:00:00.000Z");
const T3 = new Date("2026-03-01T12:00:00.000Z");
const HOUR = 3_600_000;
const id = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, "0")}`;

describe("Shipment", () => {
  let ports: ReturnType<typeof deliveryPorts>;
  beforeEach(() => {
    ports = deliveryPorts();
  });

  describe("when stock is reserved", () => {
    it("starts the delivery IN_PROGRESS and records DeliveryStarted with the order's details", async () => {
      const shipment = await whenStockReserved(ports, reserved);
      expect(shipment).toEqual({
        ...reserved,
        deliveryStatus: "IN_PROGRESS",
        pickupStatus: "NONE",
        recordedAt: T0,
        deliveryStartedAt: T0,
      });
      expect(ports.shipments.events).toEqual([
        {
          id: id(1),
          type: "trial.delivery.v1.DeliveryStarted",
          aggregateId: ORDER,
          occurredAt: T0,
          data: { ...reserved, startedAt: T0 },
        },
      ]);
      expect(await getShipment(ports, { orderId: ORDER })).toEqual(shipment);
    });

    it("changes nothing when the reservation is seen again", async () => {
      const first = await whenStockReserved(ports, reserved);
      ports.clock.advance(HOUR);
      expect(await whenStockReserved(ports, { ...reserved, address: "elsewhere" })).toEqual(first);
      expect(ports.shipments.events.map((event) => event.type)).toEqual([
        "trial.delivery.v1.DeliveryStarted",
      ]);
    });

    it("never starts the delivery of an order cancelled first: the tombstone learns its details and stays CANCELLED", async () => {
      await whenOrderCancelled(ports, cancelled);
      ports.clock.advance(HOUR);
      const late = await whenStockReserved(ports, reserved);
      expect(late).toEqual({
        ...reserved,
        deliveryStatus: "CANCELLED",
        pickupStatus: "NONE",
        recordedAt: T0,
        cancelledAt: T0,
      });
      expect(ports.shipments.events.map((event) => event.type)).toEqual([
        "trial.delivery.v1.DeliveryCancelled",
      ]);
    });

    it("refuses an event whose order id is not a UUID, writing nothing", async () => {
      const error = await refusal(whenStockReserved(ports, { ...reserved, orderId: "42" }));
      expect(error).toBeInstanceOf(InvalidArgument);
      expect(error).toMatchObject({ field: "orderId" });
      expect(ports.shipments.saves).toBe(0);
    });
  });

  describe("when the order is cancelled", () => {
    it("cancels a delivery in progress and records DeliveryCancelled", async () => {
      await whenStockReserved(ports, reserved);
      ports.clock.advance(HOUR);
      const shipment = await whenOrderCancelled(ports, cancelled);
      expect(shipment).toEqual({
        ...reserved,
        deliveryStatus: "CANCELLED",
        pickupStatus: "NONE",
        recordedAt: T0,
        deliveryStartedAt: T0,
        cancelledAt: T1,
      });
      expect(ports.shipments.events.slice(1)).toEqual([
        {
          id: id(2),
          type: "trial.delivery.v1.DeliveryCancelled",
          aggregateId: ORDER,
          occurredAt: T1,
          data: { orderId: ORDER, productId: "espresso-machine", quantity: 2, cancelledAt: T1 },
        },
      ]);
    });

    it("leaves a CANCELLED tombstone when no delivery started yet, and records DeliveryCancelled so stock is released", async () => {
      const shipment = await whenOrderCancelled(ports, cancelled);
      expect(shipment).toEqual({
        orderId: ORDER,
        customerId: "",
        productId: "espresso-machine",
        quantity: 2,
        address: "",
        deliveryStatus: "CANCELLED",
        pickupStatus: "NONE",
        recordedAt: T0,
        cancelledAt: T0,
      });
      expect(ports.shipments.events).toEqual([
        {
          id: id(1),
          type: "trial.delivery.v1.DeliveryCancelled",
          aggregateId: ORDER,
          occurredAt: T0,
          data: { ...cancelled, cancelledAt: T0 },
        },
      ]);
    });

    it("keeps a completed delivery completed: the courier won the race", async () => {
      await whenStockReserved(ports, reserved);
      const completed = await completeDelivery(ports, { orderId: ORDER });
      ports.clock.advance(HOUR);
      expect(await whenOrderCancelled(ports, cancelled)).toEqual(completed);
      expect(ports.shipments.events.map((event) => event.type)).toEqual([
        "trial.delivery.v1.DeliveryStarted",
        "trial.delivery.v1.DeliveryCompleted",
      ]);
    });

    it("changes nothing when the cancellation is seen again", async () => {
      await whenStockReserved(ports, reserved);
      const first = await whenOrderCancelled(ports, cancelled);
      ports.clock.advance(HOUR);
      expect(await whenOrderCancelled(ports, cancelled)).toEqual(first);
      const tombstonePorts = deliveryPorts();
      const tombstone = await whenOrderCancelled(tombstonePorts, cancelled);
      expect(await whenOrderCancelled(tombstonePorts, cancelled)).toEqual(tombstone);
      expect(ports.shipments.events).toHaveLength(2);
      expect(tombstonePorts.shipments.events).toHaveLength(1);
    });
  });

  describe("CompleteDelivery", () => {
    it("completes a delivery in progress and records DeliveryCompleted", async () => {
      await whenStockReserved(ports, reserved);
      ports.clock.advance(HOUR);
      const shipment = await completeDelivery(ports, { orderId: ORDER });
      expect(shipment).toEqual({
        ...reserved,
        deliveryStatus: "COMPLETED",
        pickupStatus: "NONE",
        recordedAt: T0,
        deliveryStartedAt: T0,
        deliveredAt: T1,
      });
      expect(ports.shipments.events.slice(1)).toEqual([
        {
          id: id(2),
          type: "trial.delivery.v1.DeliveryCompleted",
          aggregateId: ORDER,
          occurredAt: T1,
          data: { orderId: ORDER, productId: "espresso-machine", quantity: 2, deliveredAt: T1 },
        },
      ]);
    });

    it.each([
      ["cancelled after it started", "was cancelled"],
      ["cancelled before it started", "was cancelled"],
      ["already completed", "is already completed"],
    ])(
      "refuses a delivery %s with rule delivery-must-be-in-progress, changing nothing",
      async (given, why) => {
        if (given !== "cancelled before it started") await whenStockReserved(ports, reserved);
        if (given.startsWith("cancelled")) await whenOrderCancelled(ports, cancelled);
        else await completeDelivery(ports, { orderId: ORDER });
        const before = { saves: ports.shipments.saves, state: ports.shipments.saved.get(ORDER) };
        const error = await refusal(completeDelivery(ports, { orderId: ORDER }));
        expect(error).toBeInstanceOf(FailedPrecondition);
        expect(error).toMatchObject({
          rule: "delivery-must-be-in-progress",
          description: `the delivery of order ${ORDER} ${why}`,
        });
        expect(ports.shipments.saves).toBe(before.saves);
        expect(ports.shipments.saved.get(ORDER)).toBe(before.state);
      },
    );
  });

  describe("when a return is requested", () => {
    beforeEach(async () => {
      await whenStockReserved(ports, reserved);
    });

    it("requests the pickup of a delivered product and records PickupRequested", async () => {
      ports.clock.advance(HOUR);
      await completeDelivery(ports, { orderId: ORDER });
      ports.clock.advance(HOUR);
      const shipment = await whenReturnRequested(ports, { orderId: ORDER });
      expect(shipment).toEqual({
        ...reserved,
        deliveryStatus: "COMPLETED",
        pickupStatus: "REQUESTED",
        recordedAt: T0,
        deliveryStartedAt: T0,
        deliveredAt: T1,
        pickupRequestedAt: T2,
      });
      expect(ports.shipments.events.slice(2)).toEqual([
        {
          id: id(3),
          type: "trial.delivery.v1.PickupRequested",
          aggregateId: ORDER,
          occurredAt: T2,
          data: {
            orderId: ORDER,
            productId: "espresso-machine",
            quantity: 2,
            address: "1 Main St",
            requestedAt: T2,
          },
        },
      ]);
    });

    it("changes nothing when the pickup is already requested or completed", async () => {
      await completeDelivery(ports, { orderId: ORDER });
      const requested = await whenReturnRequested(ports, { orderId: ORDER });
      ports.clock.advance(HOUR);
      expect(await whenReturnRequested(ports, { orderId: ORDER })).toEqual(requested);
      const pickedUp = await completePickup(ports, { orderId: ORDER });
      expect(await whenReturnRequested(ports, { orderId: ORDER })).toEqual(pickedUp);
      expect(ports.shipments.events.map((event) => event.type)).toEqual([
        "trial.delivery.v1.DeliveryStarted",
        "trial.delivery.v1.DeliveryCompleted",
        "trial.delivery.v1.PickupRequested",
        "trial.delivery.v1.PickupCompleted",
      ]);
    });

    it.each([
      ["in progress", "IN_PROGRESS"],
      ["cancelled", "CANCELLED"],
    ])(
      "fails for a delivery %s (order never asks that): rule delivery-must-be-completed",
      async (_, status) => {
        if (status === "CANCELLED") await whenOrderCancelled(ports, cancelled);
        const saves = ports.shipments.saves;
        const error = await refusal(whenReturnRequested(ports, { orderId: ORDER }));
        expect(error).toBeInstanceOf(FailedPrecondition);
        expect(error).toMatchObject({ rule: "delivery-must-be-completed" });
        expect(ports.shipments.saved.get(ORDER)?.pickupStatus).toBe("NONE");
        expect(ports.shipments.saves).toBe(saves);
      },
    );

    it("fails for an order delivery never heard of", async () => {
      const error = await refusal(whenReturnRequested(ports, { orderId: id(99) }));
      expect(error).toBeInstanceOf(NotFound);
    });
  });

  describe("CompletePickup", () => {
    it("completes a requested pickup and records PickupCompleted", async () => {
      await whenStockReserved(ports, reserved);
      await completeDelivery(ports, { orderId: ORDER });
      await whenReturnRequested(ports, { orderId: ORDER });
      ports.clock.advance(3 * HOUR);
      const shipment = await completePickup(ports, { orderId: ORDER });
      expect(shipment).toMatchObject({
        deliveryStatus: "COMPLETED",
        pickupStatus: "COMPLETED",
        pickedUpAt: T3,
      });
      expect(ports.shipments.events.slice(3)).toEqual([
        {
          id: id(4),
          type: "trial.delivery.v1.PickupCompleted",
          aggregateId: ORDER,
          occurredAt: T3,
          data: { orderId: ORDER, productId: "espresso-machine", quantity: 2, pickedUpAt: T3 },
        },
      ]);
    });

    it.each([
      ["not requested", "was not requested"],
      ["already completed", "is already completed"],
    ])("refuses a pickup %s with rule pickup-must-be-requested, changing nothing", async (given, why) => {
      await whenStockReserved(ports, reserved);
      await completeDelivery(ports, { orderId: ORDER });
      if (given === "already completed") {
        await whenReturnRequested(ports, { orderId: ORDER });
        await completePickup(ports, { orderId: ORDER });
      }
      const saves = ports.shipments.saves;
      const error = await refusal(completePickup(ports, { orderId: ORDER }));
      expect(error).toBeInstanceOf(FailedPrecondition);
      expect(error).toMatchObject({
        rule: "pickup-must-be-requested",
        description: `the pickup of order ${ORDER} ${why}`,
      });
      expect(ports.shipments.saves).toBe(saves);
    });

    it("refuses the pickup of a cancelled delivery", async () => {
      await whenOrderCancelled(ports, cancelled);
      const error = await refusal(completePickup(ports, { orderId: ORDER }));
      expect(error).toMatchObject({ rule: "pickup-must-be-requested" });
    });
  });

  describe("bad input on every command and query", () => {
    const calls: Array<[string, (p: DeliveryPorts, orderId: string) => Promise<unknown>]> = [
      ["completeDelivery", (p, orderId) => completeDelivery(p, { orderId })],
      ["completePickup", (p, orderId) => completePickup(p, { orderId })],
      ["getShipment", (p, orderId) => getShipment(p, { orderId })],
    ];

    it.each(calls)("%s names the field orderId for a missing or malformed id", async (_, call) => {
      for (const orderId of ["", "not-a-uuid"]) {
        const error = await refusal(call(ports, orderId));
        expect(error).toBeInstanceOf(InvalidArgument);
        expect(error).toMatchObject({ field: "orderId" });
      }
      expect(ports.shipments.saves).toBe(0);
    });

    it.each(calls)("%s answers NotFound for an order delivery never heard of", async (_, call) => {
      const error = await refusal(call(ports, ORDER));
      expect(error).toBeInstanceOf(NotFound);
      expect(error).toMatchObject({ resourceType: "Shipment", resourceId: ORDER });
      expect(ports.shipments.saves).toBe(0);
    });
  });
});

type Step = "StockReserved arrives" | "OrderCancelled arrives" | "courier calls CompleteDelivery";

/** Every distinct ordering of `items` (repeated items give each ordering once). */
function orderings<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  const seen = new Set<T>();
  return items.flatMap((item, index) => {
    if (seen.has(item)) return [];
    seen.add(item);
    const rest = [...items.slice(0, index), ...items.slice(index + 1)];
    return orderings(rest).map((tail) => [item, ...tail]);
  });
}

/** Runs the steps in order on a fresh store; the courier's refusals are answers, not failures. */
async function run(steps: readonly Step[]) {
  const ports = deliveryPorts();
  const trace: Array<{ step: Step; outcome: string }> = [];
  for (const step of steps) {
    ports.clock.advance(60_000);
    if (step === "StockReserved arrives") await whenStockReserved(ports, reserved);
    if (step === "OrderCancelled arrives") await whenOrderCancelled(ports, cancelled);
    if (step === "courier calls CompleteDelivery") {
      const outcome = await completeDelivery(ports, { orderId: ORDER }).then(
        () => "completed",
        (caught: unknown) => (caught instanceof Error ? caught.name : String(caught)),
      );
      trace.push({ step, outcome });
      continue;
    }
    trace.push({ step, outcome: "handled" });
  }
  return {
    trace,
    state: ports.shipments.saved.get(ORDER),
    events: ports.shipments.events.map((e) => e.type),
  };
}

const STEPS: Step[] = ["StockReserved arrives", "OrderCancelled arrives", "courier calls CompleteDelivery"];

describe("a cancelled order is never delivered, whatever order things happen in", () => {
  const count = (events: string[], type: string) => events.filter((event) => event === type).length;

  it.each(orderings(STEPS).map((steps) => [steps.join(", then "), steps] as const))(
    "%s",
    async (_, steps) => {
      const { state, events } = await run(steps);
      const position = (step: Step) => steps.indexOf(step);
      const deliveredFirst =
        position("StockReserved arrives") < position("courier calls CompleteDelivery") &&
        position("courier calls CompleteDelivery") < position("OrderCancelled arrives");

      if (position("OrderCancelled arrives") < position("courier calls CompleteDelivery")) {
        expect(state?.deliveryStatus).toBe("CANCELLED");
      }
      expect(
        count(events, "trial.delivery.v1.DeliveryCompleted") +
          count(events, "trial.delivery.v1.DeliveryCancelled"),
      ).toBe(1);
      expect(state?.deliveryStatus).toBe(deliveredFirst ? "COMPLETED" : "CANCELLED");
      expect(count(events, "trial.delivery.v1.DeliveryStarted")).toBe(
        position("StockReserved arrives") < position("OrderCancelled arrives") ? 1 : 0,
      );
    },
  );

  it("holds when every event is delivered twice and the courier tries twice, in all 90 orderings", async () => {
    const all = orderings([...STEPS, ...STEPS]);
    expect(all).toHaveLength(90);
    for (const steps of all) {
      const { state, trace, events } = await run(steps);
      const cancelSeen = steps.indexOf("OrderCancelled arrives");
      const completedAt = trace.findIndex((entry) => entry.outcome === "completed");
      if (completedAt === -1 || cancelSeen < completedAt) {
        expect(state?.deliveryStatus, steps.join(", ")).toBe("CANCELLED");
        expect(completedAt, steps.join(", ")).toBe(-1);
      } else {
        expect(state?.deliveryStatus, steps.join(", ")).toBe("COMPLETED");
      }
      expect(
        count(events, "trial.delivery.v1.DeliveryCompleted") +
          count(events, "trial.delivery.v1.DeliveryCancelled"),
        steps.join(", "),
      ).toBe(1);
      expect(count(events, "trial.delivery.v1.DeliveryStarted"), steps.join(", ")).toBe(
        steps.indexOf("StockReserved arrives") < cancelSeen ? 1 : 0,
      );
    }
  });
});
