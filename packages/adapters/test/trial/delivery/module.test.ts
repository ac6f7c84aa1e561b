import { randomUUID } from "node:crypto";
import { toJson } from "@bufbuild/protobuf";
import { TimestampSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  ResourceInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import { DeliveryStatus, PickupStatus } from "@hexa/proto/trial/delivery/v1/delivery_pb";
import { eventually } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DeliveryHarness,
  ORDER_DETAILS,
  orderCancelled,
  refusal,
  returnRequested,
  startDelivery,
  stockReserved,
} from "./support.ts";

let delivery: DeliveryHarness;
beforeAll(async () => {
  delivery = await startDelivery();
});
afterAll(async () => {
  await delivery?.stop();
});

const now = () => timestampFromDate(delivery.clock.now());
/** The services' time as protobuf JSON writes it into an event's payload. */
const stamp = () => toJson(TimestampSchema, now());
const types = async (orderId: string) => (await delivery.outbox(orderId)).map((event) => event.type);

describe("delivery starts on StockReserved", () => {
  it("starts the delivery, publishes DeliveryStarted with the order's details, and serves the shipment", async () => {
    const orderId = randomUUID();
    await delivery.publish(stockReserved(orderId));

    const { shipment } = await delivery.client.getShipment({ orderId });
    expect(shipment).toMatchObject({
      orderId,
      ...ORDER_DETAILS,
      deliveryStatus: DeliveryStatus.IN_PROGRESS,
      pickupStatus: PickupStatus.NONE,
      deliveryStartedAt: now(),
    });
    expect(shipment?.deliveredAt).toBeUndefined();
    expect(shipment?.cancelledAt).toBeUndefined();
    expect(await delivery.outbox(orderId)).toEqual([
      {
        type: "trial.delivery.v1.DeliveryStarted",
        payload: { orderId, ...ORDER_DETAILS, startedAt: stamp() },
      },
    ]);
    // The relay carries it to the bus, under the order id as correlation key.
    const carried = await eventually(async () => {
      const found = delivery.published.find((event) => event.aggregateId === orderId);
      if (!found) throw new Error("not published yet");
      return found;
    });
    expect(carried.type).toBe("trial.delivery.v1.DeliveryStarted");
  });

  it("has one effect per event when events are delivered again, even at the same time", async () => {
    const orderId = randomUUID();
    for (const event of [stockReserved(orderId), orderCancelled(orderId)]) {
      await Promise.all([delivery.publish(event), delivery.publish(event)]);
      await delivery.publish(event);
    }
    expect(await types(orderId)).toEqual([
      "trial.delivery.v1.DeliveryStarted",
      "trial.delivery.v1.DeliveryCancelled",
    ]);
  });
});

describe("an order cancelled before its delivery started", () => {
  it("leaves a tombstone and publishes DeliveryCancelled; the late StockReserved starts nothing, ever", async () => {
    const orderId = randomUUID();
    await delivery.publish(orderCancelled(orderId));
    await delivery.publish(stockReserved(orderId));

    const { shipment } = await delivery.client.getShipment({ orderId });
    expect(shipment).toMatchObject({
      orderId,
      ...ORDER_DETAILS,
      deliveryStatus: DeliveryStatus.CANCELLED,
      cancelledAt: now(),
    });
    expect(shipment?.deliveryStartedAt).toBeUndefined();
    expect(await delivery.outbox(orderId)).toEqual([
      {
        type: "trial.delivery.v1.DeliveryCancelled",
        payload: {
          orderId,
          productId: ORDER_DETAILS.productId,
          quantity: ORDER_DETAILS.quantity,
          cancelledAt: stamp(),
        },
      },
    ]);

    const error = await refusal(delivery.client.completeDelivery({ orderId }));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "delivery-must-be-in-progress" }),
    ]);
    expect(await types(orderId)).toEqual(["trial.delivery.v1.DeliveryCancelled"]);
  });
  it("never starts the delivery when the reservation and the cancellation arrive at the same time", async () => {
    const orders = Array.from({ length: 8 }, () => randomUUID());
    await Promise.all(
      orders.map((orderId) =>
        Promise.all([delivery.publish(stockReserved(orderId)), delivery.publish(orderCancelled(orderId))]),
      ),
    );
    for (const orderId of orders) {
      const { shipment } = await delivery.client.getShipment({ orderId });
      expect(shipment?.deliveryStatus).toBe(DeliveryStatus.CANCELLED);
      expect([
        ["trial.delivery.v1.DeliveryCancelled"],
        ["trial.delivery.v1.DeliveryStarted", "trial.delivery.v1.DeliveryCancelled"],
      ]).toContainEqual(await types(orderId));
    }
  });
});

describe("a cancellation racing the courier", () => {
  it("cancels a delivery in progress: the courier is refused afterwards", async () => {
    const orderId = randomUUID();
    await delivery.publish(stockReserved(orderId));
    await delivery.publish(orderCancelled(orderId));
    const error = await refusal(delivery.client.completeDelivery({ orderId }));
    expect(error.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "delivery-must-be-in-progress" }),
    ]);
    expect(await types(orderId)).toEqual([
      "trial.delivery.v1.DeliveryStarted",
      "trial.delivery.v1.DeliveryCancelled",
    ]);
  });

  it("keeps a delivery the courier completed first: no DeliveryCancelled", async () => {
    const orderId = randomUUID();
    await delivery.publish(stockReserved(orderId));
    const { shipment } = await delivery.client.completeDelivery({ orderId });
    expect(shipment).toMatchObject({ deliveryStatus: DeliveryStatus.COMPLETED, deliveredAt: now() });
    await delivery.publish(orderCancelled(orderId));
    expect((await delivery.client.getShipment({ orderId })).shipment?.deliveryStatus).toBe(
      DeliveryStatus.COMPLETED,
    );
    expect(await delivery.outbox(orderId)).toEqual([
      expect.objectContaining({ type: "trial.delivery.v1.DeliveryStarted" }),
      {
        type: "trial.delivery.v1.DeliveryCompleted",
        payload: {
          orderId,
          productId: ORDER_DETAILS.productId,
          quantity: ORDER_DETAILS.quantity,
          deliveredAt: stamp(),
        },
      },
    ]);
  });

  it("lets exactly one of them win when they arrive at the same time", async () => {
    const orders = Array.from({ length: 8 }, () => randomUUID());
    for (const orderId of orders) await delivery.publish(stockReserved(orderId));
    await Promise.all(
      orders.map(async (orderId) => {
        const [, courier] = await Promise.allSettled([
          delivery.publish(orderCancelled(orderId)),
          delivery.client.completeDelivery({ orderId }),
        ]);
        const { shipment } = await delivery.client.getShipment({ orderId });
        const outcome = await types(orderId);
        if (courier.status === "fulfilled") {
          expect(shipment?.deliveryStatus).toBe(DeliveryStatus.COMPLETED);
          expect(outcome).toEqual([
            "trial.delivery.v1.DeliveryStarted",
            "trial.delivery.v1.DeliveryCompleted",
          ]);
        } else {
          expect(shipment?.deliveryStatus).toBe(DeliveryStatus.CANCELLED);
          expect(outcome).toEqual([
            "trial.delivery.v1.DeliveryStarted",
            "trial.delivery.v1.DeliveryCancelled",
          ]);
        }
      }),
    );
  });
});

describe("pickup of a returned product", () => {
  it("is requested on ReturnRequested after the delivery, once, and completed by the courier", async () => {
    const orderId = randomUUID();
    await delivery.publish(stockReserved(orderId));
    await delivery.client.completeDelivery({ orderId });
    delivery.clock.advance(60_000);
    const requested = returnRequested(orderId);
    await delivery.publish(requested);
    await delivery.publish(requested);
    await delivery.publish(returnRequested(orderId));

    const { shipment } = await delivery.client.getShipment({ orderId });
    expect(shipment).toMatchObject({
      deliveryStatus: DeliveryStatus.COMPLETED,
      pickupStatus: PickupStatus.REQUESTED,
      pickupRequestedAt: now(),
    });
    expect((await delivery.outbox(orderId)).at(-1)).toEqual({
      type: "trial.delivery.v1.PickupRequested",
      payload: {
        orderId,
        productId: ORDER_DETAILS.productId,
        quantity: ORDER_DETAILS.quantity,
        address: ORDER_DETAILS.address,
        requestedAt: stamp(),
      },
    });

    delivery.clock.advance(60_000);
    const picked = await delivery.client.completePickup({ orderId });
    expect(picked.shipment).toMatchObject({ pickupStatus: PickupStatus.COMPLETED, pickedUpAt: now() });
    const again = await refusal(delivery.client.completePickup({ orderId }));
    expect(again.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "pickup-must-be-requested" }),
    ]);
    expect(await types(orderId)).toEqual([
      "trial.delivery.v1.DeliveryStarted",
      "trial.delivery.v1.DeliveryCompleted",
      "trial.delivery.v1.PickupRequested",
      "trial.delivery.v1.PickupCompleted",
    ]);
  });

  it("dead-letters a ReturnRequested for a delivery not completed (a fault to surface), changing nothing", async () => {
    const orderId = randomUUID();
    await delivery.publish(stockReserved(orderId));
    const event = returnRequested(orderId);
    await delivery.publish(event);

    const letters = await delivery.bus.deadLetters.list();
    expect(letters).toEqual([
      expect.objectContaining({
        consumer: "delivery-return-requested",
        event: expect.objectContaining({ id: event.id }),
        error: expect.stringContaining("delivery-must-be-completed"),
        attempts: 2,
      }),
    ]);
    expect((await delivery.client.getShipment({ orderId })).shipment?.pickupStatus).toBe(PickupStatus.NONE);
    expect(await types(orderId)).toEqual(["trial.delivery.v1.DeliveryStarted"]);
  });
});

describe("bad input", () => {
  it("names the field of a missing or malformed order id on every RPC, and writes nothing", async () => {
    const before = await delivery.rowCounts();
    const { client } = delivery;
    for (const orderId of ["", "42"]) {
      for (const call of [
        () => client.completeDelivery({ orderId }),
        () => client.completePickup({ orderId }),
        () => client.getShipment({ orderId }),
      ]) {
        const error = await refusal(call());
        expect(error.code).toBe(Code.InvalidArgument);
        expect(error.findDetails(FieldViolationSchema)).toEqual([
          expect.objectContaining({ field: "orderId" }),
        ]);
        expect(error.rawMessage).toMatch(/^orderId: /);
      }
    }
    expect(await delivery.rowCounts()).toEqual(before);
  });

  it("names the field of every bad ListShipments argument", async () => {
    const cases: Array<[Parameters<typeof delivery.client.listShipments>[0], string]> = [
      [{ pageSize: -1 }, "pageSize"],
      [{ pageSize: 101 }, "pageSize"],
      [{ pageToken: "not a token" }, "pageToken"],
      [{ pageToken: Buffer.from('{"recordedAt":"x","orderId":"y"}').toString("base64url") }, "pageToken"],
      [{ deliveryStatus: 9 as DeliveryStatus }, "deliveryStatus"],
      [{ pickupStatus: 9 as PickupStatus }, "pickupStatus"],
    ];
    for (const [request, field] of cases) {
      const error = await refusal(delivery.client.listShipments(request));
      expect(error.code, field).toBe(Code.InvalidArgument);
      expect(error.findDetails(FieldViolationSchema), field).toEqual([expect.objectContaining({ field })]);
    }
  });

  it("answers NotFound for an order delivery never heard of, on every RPC, and writes nothing", async () => {
    const before = await delivery.rowCounts();
    const orderId = randomUUID();
    const { client } = delivery;
    for (const call of [
      () => client.completeDelivery({ orderId }),
      () => client.completePickup({ orderId }),
      () => client.getShipment({ orderId }),
    ]) {
      const error = await refusal(call());
      expect(error.code).toBe(Code.NotFound);
      expect(error.findDetails(ResourceInfoSchema)).toEqual([
        expect.objectContaining({ resourceType: "Shipment", resourceId: orderId }),
      ]);
    }
    expect(await delivery.rowCounts()).toEqual(before);
  });

  it("names the rule of a refused completion, and writes nothing", async () => {
    const orderId = randomUUID();
    await delivery.publish(stockReserved(orderId));
    const before = await delivery.rowCounts();
    const pickup = await refusal(delivery.client.completePickup({ orderId }));
    expect(pickup.code).toBe(Code.FailedPrecondition);
    expect(pickup.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "pickup-must-be-requested" }),
    ]);
    await delivery.client.completeDelivery({ orderId });
    const middle = await delivery.rowCounts();
    expect(middle).toEqual({ shipments: before.shipments, outbox: before.outbox + 1 });
    const twice = await refusal(delivery.client.completeDelivery({ orderId }));
    expect(twice.code).toBe(Code.FailedPrecondition);
    expect(twice.findDetails(PreconditionFailureSchema)).toEqual([
      expect.objectContaining({ rule: "delivery-must-be-in-progress" }),
    ]);
    expect(await delivery.rowCounts()).toEqual(middle);
  });
});
