import { randomUUID } from "node:crypto";
import { DeliveryStatus, PickupStatus } from "@hexa/proto/trial/delivery/v1/delivery_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DeliveryHarness,
  orderCancelled,
  returnRequested,
  startDelivery,
  stockReserved,
} from "./support.ts";

let delivery: DeliveryHarness;
/** Order ids by the state their shipment is put in, oldest first. */
const orders = {
  inProgress: randomUUID(),
  cancelled: randomUUID(),
  delivered: randomUUID(),
  returning: randomUUID(),
  inProgressLater: randomUUID(),
};
/** Two shipments recorded at the same instant, in the order the tie-break (order id) puts them. */
const sameInstant = [randomUUID(), randomUUID()].sort();

beforeAll(async () => {
  delivery = await startDelivery();
  const minute = () => delivery.clock.advance(60_000);
  minute();
  await delivery.publish(stockReserved(orders.inProgress));
  minute();
  await delivery.publish(orderCancelled(orders.cancelled));
  minute();
  await delivery.publish(stockReserved(orders.delivered));
  minute();
  await delivery.publish(stockReserved(orders.returning));
  minute();
  await delivery.publish(stockReserved(orders.inProgressLater));
  minute();
  for (const orderId of [...sameInstant].reverse()) await delivery.publish(stockReserved(orderId));
  minute();
  await delivery.client.completeDelivery({ orderId: orders.delivered });
  await delivery.client.completeDelivery({ orderId: orders.returning });
  await delivery.publish(returnRequested(orders.returning));
});
afterAll(async () => {
  await delivery?.stop();
});

type ListRequest = Parameters<DeliveryHarness["client"]["listShipments"]>[0];

async function ids(request: ListRequest): Promise<{ ids: string[]; next: string }> {
  const response = await delivery.client.listShipments(request);
  return { ids: response.shipments.map((shipment) => shipment.orderId), next: response.nextPageToken };
}

/** Every page in turn, with `pageSize` rows each. */
async function allPages(request: ListRequest, pageSize: number): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken = request.pageToken ?? "";
  do {
    const page = await ids({ ...request, pageSize, pageToken });
    pages.push(page.ids);
    pageToken = page.next;
  } while (pageToken !== "");
  return pages;
}

const everyOrder = () => [
  orders.inProgress,
  orders.cancelled,
  orders.delivered,
  orders.returning,
  orders.inProgressLater,
  ...sameInstant,
];

describe("ListShipments", () => {
  it("lists every shipment oldest first, ties by order id, in one page of the default size", async () => {
    expect(await ids({})).toEqual({ ids: everyOrder(), next: "" });
    const { shipments } = await delivery.client.listShipments({ pageSize: 1 });
    expect(shipments[0]).toMatchObject({
      orderId: orders.inProgress,
      deliveryStatus: DeliveryStatus.IN_PROGRESS,
      pickupStatus: PickupStatus.NONE,
    });
  });

  it("pages with tokens, the last page having none", async () => {
    const all = everyOrder();
    expect(await allPages({}, 3)).toEqual([all.slice(0, 3), all.slice(3, 6), all.slice(6)]);
    // A full last page still carries a token; the page after it is empty and has none.
    expect(await allPages({}, 7)).toEqual([all, []]);
  });

  it("filters by delivery status, pickup status, or both", async () => {
    expect((await ids({ deliveryStatus: DeliveryStatus.IN_PROGRESS })).ids).toEqual([
      orders.inProgress,
      orders.inProgressLater,
      ...sameInstant,
    ]);
    expect((await ids({ deliveryStatus: DeliveryStatus.CANCELLED })).ids).toEqual([orders.cancelled]);
    expect((await ids({ deliveryStatus: DeliveryStatus.COMPLETED })).ids).toEqual([
      orders.delivered,
      orders.returning,
    ]);
    expect((await ids({ pickupStatus: PickupStatus.REQUESTED })).ids).toEqual([orders.returning]);
    expect((await ids({ pickupStatus: PickupStatus.COMPLETED })).ids).toEqual([]);
    expect(
      (await ids({ deliveryStatus: DeliveryStatus.COMPLETED, pickupStatus: PickupStatus.NONE })).ids,
    ).toEqual([orders.delivered]);
  });

  it("pages a filtered list", async () => {
    expect(await allPages({ deliveryStatus: DeliveryStatus.IN_PROGRESS }, 2)).toEqual([
      [orders.inProgress, orders.inProgressLater],
      sameInstant,
      [],
    ]);
  });

  it("keeps its place when shipments are added between pages", async () => {
    const first = await ids({ pageSize: 4 });
    delivery.clock.advance(60_000);
    const newest = randomUUID();
    await delivery.publish(stockReserved(newest));
    const rest = await allPages({ pageToken: first.next }, 4);
    expect([...first.ids, ...rest.flat()]).toEqual([...everyOrder(), newest]);
  });
});
