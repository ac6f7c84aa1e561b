import type { Reservation } from "./reservation.ts";
import type { Stock, StockState } from "./stock.ts";

/** A page of the stock list, in product id order. */
export interface StockPage {
  /** The product id the previous page ended with; undefined for the first page. */
  readonly after: string | undefined;
  readonly limit: number;
}

/**
 * Where products' stock is kept. In a unit of work, `get` locks the product's stock until commit,
 * even before it has a row, so concurrent orders take units one after the other. `save` writes
 * only a changed stock and hands its recorded events to the outbox.
 */
export interface Stocks extends StockReads {
  save(stock: Stock): Promise<void>;
}

/** Products' stock as queries read it: outside a unit of work, nothing locked. */
export interface StockReads {
  get(productId: string): Promise<Stock | undefined>;
  list(page: StockPage): Promise<StockState[]>;
}

/**
 * Where reservations are kept, one per order. In a unit of work, `get` locks the order's
 * reservation until commit, even before it has a row. `save` hands its recorded events to the outbox.
 */
export interface Reservations {
  get(orderId: string): Promise<Reservation | undefined>;
  save(reservation: Reservation): Promise<void>;
}
