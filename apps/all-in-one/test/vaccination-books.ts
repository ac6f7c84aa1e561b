import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import { connectJsonClient, eventually, query } from "@hexa/testing";
import { expect } from "vitest";

/**
 * The vaccination books of one hospital, read where each service keeps them: inventory's booked
 * count (its API) and booking rows, reservation's outstanding reservations (their database).
 */
export class VaccinationBooks {
  readonly #databaseUrl: string;
  readonly #inventoryUrl: string;
  readonly #hospitalId: string;

  constructor(databaseUrl: string, inventoryUrl: string, hospitalId: string) {
    this.#databaseUrl = databaseUrl;
    this.#inventoryUrl = inventoryUrl;
    this.#hospitalId = hospitalId;
  }

  /** Inventory's booked count (its only vaccine at the hospital). */
  async booked(): Promise<number> {
    return (await this.#stock())?.booked ?? 0;
  }

  /** Reservations REGISTERED or CONFIRMED at reservation. */
  outstanding(): Promise<number> {
    return this.#count(
      `select count(*)::int as n from vaccination_reservation.reservation
        where hospital_id = $1 and status in ('REGISTERED', 'CONFIRMED')`,
    );
  }

  /** Reservations reservation cancelled for a released hold (reason HOLD_EXPIRED). */
  cancelledForExpiredHolds(): Promise<number> {
    return this.#count(
      `select count(*)::int as n from vaccination_reservation.reservation
        where hospital_id = $1 and status = 'CANCELLED' and cancellation_reason = 'HOLD_EXPIRED'`,
    );
  }

  /** Bookings inventory holds whose lease still runs (not confirmed). */
  unconfirmed(): Promise<number> {
    return this.#count(
      `select count(*)::int as n from vaccination_inventory.booking
        where hospital_id = $1 and status = 'BOOKED' and hold_until is not null`,
    );
  }

  /** Bookings inventory holds a dose for. */
  held(): Promise<number> {
    return this.#count(
      "select count(*)::int as n from vaccination_inventory.booking where hospital_id = $1 and status = 'BOOKED'",
    );
  }

  /**
   * Waits until the books balance: bookings held by inventory = its booked count = reservations
   * outstanding <= doses remaining, and the date slots taken = the bookings held <= the capacity.
   */
  async expectBalanced(dailyCapacity: number): Promise<void> {
    await eventually(async () => {
      const stock = await this.#stock();
      const held = await this.held();
      const taken = await this.#count(
        "select coalesce(sum(taken), 0)::int as n from vaccination_inventory.date_capacity where hospital_id = $1",
      );
      expect(held).toBe(stock?.booked);
      expect(held).toBe(await this.outstanding());
      expect(taken).toBe(held);
      expect(held).toBeLessThanOrEqual(stock?.remaining ?? 0);
      expect(taken).toBeLessThanOrEqual(dailyCapacity);
    }, 20_000);
  }

  async #stock() {
    const { stocks } = await connectJsonClient(InventoryService, this.#inventoryUrl).getHospitalStock({
      hospitalId: this.#hospitalId,
    });
    return stocks[0];
  }

  async #count(sql: string): Promise<number> {
    const [row] = await query<{ n: number }>(this.#databaseUrl, sql, [this.#hospitalId]);
    return row?.n ?? 0;
  }
}
