import {
  DELIVERY_STATUSES,
  PICKUP_STATUSES,
  Shipment,
  type Shipment as ShipmentAggregate,
  type ShipmentQuery,
  type ShipmentState,
} from "@hexa/core/trial/delivery";
import { defineEntity, type FilterQuery, type InferEntity, p } from "@mikro-orm/core";
import { aggregateStore } from "../../kit/aggregate-store.ts";
import { type EntityManager, quotedList, type SchemaMigration } from "../../postgres/database.ts";
import { encodeDeliveryEvent } from "./events.ts";

export const ShipmentRecord = defineEntity({
  name: "ShipmentRecord",
  tableName: "shipment",
  properties: {
    orderId: p.uuid().primary(),
    customerId: p.string(),
    productId: p.string(),
    quantity: p.integer(),
    address: p.string(),
    deliveryStatus: p.enum(DELIVERY_STATUSES),
    pickupStatus: p.enum(PICKUP_STATUSES),
    recordedAt: p.datetime(),
    deliveryStartedAt: p.datetime().nullable(),
    deliveredAt: p.datetime().nullable(),
    cancelledAt: p.datetime().nullable(),
    pickupRequestedAt: p.datetime().nullable(),
    pickedUpAt: p.datetime().nullable(),
  },
});

export const deliveryMigrations: SchemaMigration[] = [
  {
    name: "0001_shipment",
    sql: [
      `create table shipment (
        order_id uuid primary key,
        customer_id text not null,
        product_id text not null,
        quantity integer not null check (quantity > 0),
        address text not null,
        delivery_status text not null check (delivery_status in (${quotedList(DELIVERY_STATUSES)})),
        pickup_status text not null check (pickup_status in (${quotedList(PICKUP_STATUSES)})),
        recorded_at timestamptz not null,
        delivery_started_at timestamptz null,
        delivered_at timestamptz null,
        cancelled_at timestamptz null,
        pickup_requested_at timestamptz null,
        picked_up_at timestamptz null
      )`,
      "create index shipment_work_list on shipment (recorded_at, order_id)",
      "create index shipment_by_delivery_status on shipment (delivery_status, recorded_at, order_id)",
      "create index shipment_by_pickup_status on shipment (pickup_status, recorded_at, order_id)",
    ],
  },
];

type Row = InferEntity<typeof ShipmentRecord>;

/**
 * Shipments. In a unit of work, `get` locks the shipment's row until commit. A reservation and a
 * cancellation of one order racing to create it take turns: the second fails on the primary key and
 * is handled again, seeing the first's row.
 */
export const shipmentStore = aggregateStore({
  entity: ShipmentRecord,
  key: (orderId: string) => ({ orderId }),
  lock: "row-or-insert",
  restore: (row) => Shipment.restore(toState(row)),
  record: ({ state }: ShipmentAggregate) => ({
    ...state,
    deliveryStartedAt: state.deliveryStartedAt ?? null,
    deliveredAt: state.deliveredAt ?? null,
    cancelledAt: state.cancelledAt ?? null,
    pickupRequestedAt: state.pickupRequestedAt ?? null,
    pickedUpAt: state.pickedUpAt ?? null,
  }),
  encode: encodeDeliveryEvent,
});

/** A page of the work list, keyset paging on (recorded_at, order_id): stable while shipments are added. */
export async function shipmentPage(em: EntityManager, query: ShipmentQuery): Promise<ShipmentState[]> {
  const where: FilterQuery<Row>[] = [];
  if (query.deliveryStatus) where.push({ deliveryStatus: query.deliveryStatus });
  if (query.pickupStatus) where.push({ pickupStatus: query.pickupStatus });
  if (query.after) {
    const { recordedAt, orderId } = query.after;
    where.push({
      $or: [{ recordedAt: { $gt: recordedAt } }, { recordedAt, orderId: { $gt: orderId } }],
    });
  }
  const records = await em.find(
    ShipmentRecord,
    { $and: where },
    { orderBy: { recordedAt: "asc", orderId: "asc" }, limit: query.limit },
  );
  return records.map(toState);
}

function toState(record: Row): ShipmentState {
  return {
    orderId: record.orderId,
    customerId: record.customerId,
    productId: record.productId,
    quantity: record.quantity,
    address: record.address,
    deliveryStatus: record.deliveryStatus,
    pickupStatus: record.pickupStatus,
    recordedAt: record.recordedAt,
    deliveryStartedAt: record.deliveryStartedAt ?? undefined,
    deliveredAt: record.deliveredAt ?? undefined,
    cancelledAt: record.cancelledAt ?? undefined,
    pickupRequestedAt: record.pickupRequestedAt ?? undefined,
    pickedUpAt: record.pickedUpAt ?? undefined,
  };
}
