import { type EventContext, NotFound, requireText } from "../../shared/index.ts";
import type { Reservations, StockPage, StockReads, Stocks } from "./ports.ts";
import { type OrderUnits, type PlacedOrder, Reservation, type ReservationState } from "./reservation.ts";
import { Stock, type StockState } from "./stock.ts";

export interface WarehousePorts extends EventContext {
  readonly stocks: Stocks;
  readonly reservations: Reservations;
}

export interface Restock {
  readonly productId: string;
  readonly quantity: number;
}

/** Warehouse staff add units of a product; its first restock creates its stock. */
export async function restock(
  ports: Pick<WarehousePorts, "stocks" | "clock" | "ids">,
  command: Restock,
): Promise<StockState> {
  const stock = await loadStock(ports.stocks, requireProductId(command.productId));
  stock.restock(command.quantity, ports);
  await ports.stocks.save(stock);
  return stock.state;
}

/** One product's stock; a product never stocked has every count 0. */
export async function getStock(
  ports: { readonly stocks: StockReads },
  query: { productId: string },
): Promise<StockState> {
  return (await loadStock(ports.stocks, requireProductId(query.productId))).state;
}

/** Stocked products in product id order, one page at a time. */
export async function listStock(
  ports: { readonly stocks: StockReads },
  page: StockPage,
): Promise<StockState[]> {
  return ports.stocks.list(page);
}

/**
 * Policy, the warehouse's step of the order saga: order placed an order, so its units are held
 * (StockReserved), or the shortage is reported (StockShortage, and order rejects the order).
 * An order the warehouse already knows is left as it is: the same order again, or a tombstone
 * left by its cancelled delivery.
 */
export async function whenOrderPlaced(ports: WarehousePorts, placed: PlacedOrder): Promise<ReservationState> {
  const known = await ports.reservations.get(placed.orderId);
  const stock = await loadStock(ports.stocks, known?.state.productId ?? placed.productId);
  const reservation = known ?? Reservation.place(placed, stock, ports);
  await save(ports, reservation, stock);
  return reservation.state;
}

/**
 * Policy: delivery cancelled the order's delivery, so held units are released. When the order
 * has not reached the warehouse yet, a CANCELLED tombstone makes it reserve nothing when it does.
 */
export async function whenDeliveryCancelled(
  ports: WarehousePorts,
  cancelled: OrderUnits,
): Promise<ReservationState> {
  const known = await ports.reservations.get(cancelled.orderId);
  const stock = await loadStock(ports.stocks, known?.state.productId ?? cancelled.productId);
  const reservation = known ?? Reservation.tombstone(cancelled, ports);
  reservation.release(stock, ports);
  await save(ports, reservation, stock);
  return reservation.state;
}

/** Policy: the courier delivered, so the order's held units leave the warehouse. */
export async function whenDeliveryCompleted(
  ports: WarehousePorts,
  completed: { orderId: string },
): Promise<ReservationState> {
  const reservation = await loadReservation(ports.reservations, completed.orderId);
  const stock = await loadStock(ports.stocks, reservation.state.productId);
  reservation.ship(stock, ports);
  await save(ports, reservation, stock);
  return reservation.state;
}

/** Policy: the courier picked the order's units up, so they are back on hand. */
export async function whenPickupCompleted(
  ports: WarehousePorts,
  pickedUp: { orderId: string },
): Promise<ReservationState> {
  const reservation = await loadReservation(ports.reservations, pickedUp.orderId);
  const stock = await loadStock(ports.stocks, reservation.state.productId);
  reservation.receiveReturn(stock, ports);
  await save(ports, reservation, stock);
  return reservation.state;
}

function requireProductId(productId: string): string {
  return requireText("productId", productId, 64);
}

async function loadStock(stocks: StockReads, productId: string): Promise<Stock> {
  return (await stocks.get(productId)) ?? Stock.empty(productId);
}

/**
 * Delivery completes and picks up only orders whose units the warehouse reserved, so their
 * reservation exists: an unknown one is NotFound, and the event is retried, then dead-lettered.
 */
async function loadReservation(reservations: Reservations, orderId: string): Promise<Reservation> {
  const reservation = await reservations.get(orderId);
  if (!reservation) throw new NotFound("Reservation", orderId);
  return reservation;
}

async function save(ports: WarehousePorts, reservation: Reservation, stock: Stock): Promise<void> {
  await ports.stocks.save(stock);
  await ports.reservations.save(reservation);
}
