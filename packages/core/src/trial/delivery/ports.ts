import type { DeliveryStatus, PickupStatus, Shipment, ShipmentState } from "./shipment.ts";

/** A place in the work list's order: oldest `recordedAt` first, then by order id. */
export interface ShipmentPosition {
  readonly recordedAt: Date;
  readonly orderId: string;
}

/** A courier's work list: shipments with the given statuses (unset ones do not filter), oldest first. */
export interface ShipmentQuery {
  readonly deliveryStatus?: DeliveryStatus | undefined;
  readonly pickupStatus?: PickupStatus | undefined;
  readonly limit: number;
  /** Continue after this position; unset for the first page. */
  readonly after?: ShipmentPosition | undefined;
}

/**
 * Where shipments are kept. `save` also hands the shipment's recorded events to the outbox.
 * In a unit of work `get` holds the order id until commit, even before a shipment exists, so
 * events about one order that race each other take turns.
 */
export interface Shipments extends ShipmentReads {
  save(shipment: Shipment): Promise<void>;
}

/** Shipments as queries read them: outside a unit of work, nothing locked. */
export interface ShipmentReads {
  get(orderId: string): Promise<Shipment | undefined>;
  list(query: ShipmentQuery): Promise<ShipmentState[]>;
}
