import { type EventContext, NotFound, requireUuid } from "../../shared/index.ts";
import type { ShipmentQuery, ShipmentReads, Shipments } from "./ports.ts";
import { type CancelledOrder, type ReservedOrder, Shipment, type ShipmentState } from "./shipment.ts";

export interface DeliveryPorts extends EventContext {
  readonly shipments: Shipments;
}

/** The courier confirms the delivery of an order. */
export async function completeDelivery(
  ports: DeliveryPorts,
  command: { orderId: string },
): Promise<ShipmentState> {
  const shipment = await loadShipment(ports.shipments, command.orderId);
  shipment.complete(ports);
  await ports.shipments.save(shipment);
  return shipment.state;
}

/** The courier confirms the pickup of a returned product. */
export async function completePickup(
  ports: DeliveryPorts,
  command: { orderId: string },
): Promise<ShipmentState> {
  const shipment = await loadShipment(ports.shipments, command.orderId);
  shipment.completePickup(ports);
  await ports.shipments.save(shipment);
  return shipment.state;
}

export async function getShipment(
  ports: { readonly shipments: ShipmentReads },
  query: { orderId: string },
): Promise<ShipmentState> {
  return (await loadShipment(ports.shipments, query.orderId)).state;
}

export async function listShipments(
  ports: { readonly shipments: ShipmentReads },
  query: ShipmentQuery,
): Promise<ShipmentState[]> {
  return ports.shipments.list(query);
}

/** Policy: warehouse reserved the order's units, so the delivery starts, unless the order was cancelled first. */
export async function whenStockReserved(
  ports: DeliveryPorts,
  reserved: ReservedOrder,
): Promise<ShipmentState> {
  const order = { ...reserved, orderId: requireUuid("orderId", reserved.orderId) };
  const known = await ports.shipments.get(order.orderId);
  let shipment: Shipment;
  if (known) {
    shipment = known;
    shipment.reservationArrived(order);
  } else {
    shipment = Shipment.start(order, ports);
  }
  await ports.shipments.save(shipment);
  return shipment.state;
}

/** Policy: the order was cancelled, so its delivery is cancelled, or never starts. */
export async function whenOrderCancelled(
  ports: DeliveryPorts,
  cancelled: CancelledOrder,
): Promise<ShipmentState> {
  const order = { ...cancelled, orderId: requireUuid("orderId", cancelled.orderId) };
  const known = await ports.shipments.get(order.orderId);
  let shipment: Shipment;
  if (known) {
    shipment = known;
    shipment.cancel(ports);
  } else {
    shipment = Shipment.cancelBeforeStart(order, ports);
  }
  await ports.shipments.save(shipment);
  return shipment.state;
}

/** Policy: order asked for the product back, so a courier is sent to pick it up. */
export async function whenReturnRequested(
  ports: DeliveryPorts,
  requested: { orderId: string },
): Promise<ShipmentState> {
  const shipment = await loadShipment(ports.shipments, requested.orderId);
  shipment.requestPickup(ports);
  await ports.shipments.save(shipment);
  return shipment.state;
}

async function loadShipment(shipments: ShipmentReads, orderId: string): Promise<Shipment> {
  const shipment = await shipments.get(requireUuid("orderId", orderId));
  if (!shipment) throw new NotFound("Shipment", orderId);
  return shipment;
}
