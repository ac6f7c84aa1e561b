/** Warehouse's events as it publishes them: recorded by Reservation, encoded by its outbox encoder. */
import { encodeWarehouseEvent } from "@hexa/adapters/trial/warehouse/events";
import { Reservation, Stock, type StockReserved, type StockShortage } from "@hexa/core/trial/warehouse";
import { StockReservedSchema, StockShortageSchema } from "@hexa/proto/trial/warehouse/v1/events_pb";
import type { PublishedEvents } from "../messages.ts";
import { last, world } from "./world.ts";

function reservation(inStock: number): Reservation {
  const stock = Stock.empty("espresso-machine");
  if (inStock > 0) stock.restock(inStock, world);
  return Reservation.place(
    {
      orderId: world.ids.next(),
      customerId: "customer-7",
      productId: "espresso-machine",
      quantity: 2,
      address: "221B Baker Street",
    },
    stock,
    world,
  );
}

/** An order's units are held for it. */
export function stockReserved(): StockReserved {
  return last(reservation(5).pullEvents()) as StockReserved;
}

/** An order asks for more units than are available. */
export function stockShortage(): StockShortage {
  return last(reservation(1).pullEvents()) as StockShortage;
}

export const warehouseEvents: PublishedEvents = {
  [StockReservedSchema.typeName]: () => encodeWarehouseEvent(stockReserved()),
  [StockShortageSchema.typeName]: () => encodeWarehouseEvent(stockShortage()),
};
