import { Code, ConnectError } from "@connectrpc/connect";
import {
  FieldViolationSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "@hexa/proto/hexa/common/v1/errors_pb";
import { DashboardService, OrderState } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  ReservationService,
  ReservationStatus,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { Catalogue, MyOrders, OrderDashboard, Plans } from "../../src/trial/screens.tsx";
import { Booking, DayView } from "../../src/vaccination/screens.tsx";
import { renderWith } from "./render.tsx";

afterEach(cleanup);

const as = { subject: "alice", roles: ["customer"], argument: "" };

describe("the console's screens, their calls answered in memory", () => {
  it("shows a field violation on its field, and what the form sent", async () => {
    const sent: unknown[] = [];
    renderWith(
      (router) => {
        router.service(MarketingService, {
          listTrialPlans: () => ({ plans: [] }),
          startTrialPlan: (request) => {
            sent.push({ productId: request.productId, name: request.name, trialDays: request.trialDays });
            throw new ConnectError(
              "trialDays: must be a whole number from 1 to 365",
              Code.InvalidArgument,
              undefined,
              [
                {
                  desc: FieldViolationSchema,
                  value: { field: "trialDays", description: "must be a whole number from 1 to 365" },
                },
              ],
            );
          },
        });
      },
      <Plans />,
    );
    fireEvent.change(screen.getByLabelText("Product"), { target: { value: "espresso" } });
    fireEvent.change(screen.getByLabelText("Plan name"), { target: { value: "Espresso week" } });
    fireEvent.change(screen.getByLabelText("Trial days"), { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Start plan" }));
    const days = screen.getByLabelText("Trial days");
    await waitFor(() => expect(days.getAttribute("aria-invalid")).toBe("true"));
    expect(screen.getByText("must be a whole number from 1 to 365").id).toBe(
      days.getAttribute("aria-describedby"),
    );
    expect(screen.getByLabelText("Product").getAttribute("aria-invalid")).toBeNull();
    expect(sent).toEqual([{ productId: "espresso", name: "Espresso week", trialDays: 0 }]);
  });

  it("places an order again after the wait the service names, when it had not heard of the plan yet", async () => {
    let attempts = 0;
    renderWith(
      (router) => {
        router.service(MarketingService, {
          listTrialPlans: () => ({
            plans: [{ planId: "p1", productId: "espresso", name: "Espresso week", trialDays: 7 }],
          }),
        });
        router.service(OrderService, {
          placeOrder: (request) => {
            attempts++;
            if (attempts === 1) {
              throw new ConnectError("not heard yet", Code.Unavailable, undefined, [
                {
                  desc: RetryInfoSchema,
                  value: {
                    rule: "plan-must-be-known",
                    description: "order has not heard of plan p1",
                    retryAfterMs: 50,
                  },
                },
              ]);
            }
            return {
              order: { orderId: "o-123456789", customerId: request.customerId, planId: request.planId },
            };
          },
        });
      },
      <Catalogue {...as} />,
    );
    fireEvent.change(await screen.findByLabelText("Delivery address"), { target: { value: "1 Main St" } });
    fireEvent.click(screen.getByRole("button", { name: "Try it" }));
    await screen.findByRole("link", { name: "Follow order 23456789" });
    expect(attempts).toBe(2);
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("offers the waitlist as an outcome, and joins it for the same hospital and vaccine", async () => {
    const joined: unknown[] = [];
    renderWith(
      (router) => {
        router.service(InventoryService, {
          listHospitals: () => ({ hospitals: [{ hospitalId: "h1", name: "Seoul", dailyCapacity: 2 }] }),
          listVaccines: () => ({ vaccines: [{ vaccineId: "v1", name: "Vaxo", dosesRequired: 1 }] }),
        });
        router.service(VaccinationDashboardService, { getDailyReservations: () => ({ days: [] }) });
        router.service(ReservationService, {
          reserve: () => ({
            outcome: {
              case: "waitlistOffer",
              value: { reason: WaitlistOffer_Reason.NO_DOSES, message: "No doses can be booked at Seoul." },
            },
          }),
          joinWaitlist: (request) => {
            joined.push({
              personId: request.personId,
              hospitalId: request.hospitalId,
              vaccineId: request.vaccineId,
            });
            return { reservation: { reservationId: "r1", status: ReservationStatus.WAITLISTED } };
          },
        });
      },
      <Booking subject="person-1" roles={["person"]} argument="" />,
    );
    await screen.findAllByRole("option", { name: "Seoul" });
    await screen.findByRole("option", { name: "Vaxo" });
    fireEvent.click(screen.getByRole("button", { name: "Book" }));
    await screen.findByText(/No doses can be booked at Seoul\./);
    expect(screen.queryByRole("alert")).toBeNull(); // not an error
    fireEvent.click(screen.getByRole("button", { name: "Join the waitlist" }));
    await screen.findByText("You are on the waitlist.");
    expect(joined).toEqual([{ personId: "person-1", hospitalId: "h1", vaccineId: "v1" }]);
  });

  it("says when the order's stream is lost, reopens it by itself, and shows the status it brings", async () => {
    let opened = 0;
    const order = { orderId: "o1", customerId: "alice", productId: "espresso", quantity: 1 };
    renderWith(
      (router) => {
        router.service(DashboardService, {
          listOrderStatuses: () => ({ orders: [{ ...order, state: OrderState.PLACED }] }),
          async *watchOrderStatuses() {
            yield {};
            await new Promise(() => {}); // stays open
          },
          async *watchOrder() {
            opened++;
            if (opened === 1) throw new ConnectError("connection reset", Code.Unavailable);
            yield { order: { ...order, state: OrderState.DELIVERING } };
            await new Promise(() => {}); // stays open
          },
        });
      },
      <MyOrders {...as} argument="o1" />,
    );
    await screen.findByText("connection lost, reconnecting…");
    await waitFor(() => expect(screen.getByTestId("followed-status").textContent).toBe("delivering"), {
      timeout: 3_000,
    });
    expect(screen.getAllByText("live")).toHaveLength(2); // the followed order's stream and the list's
    expect(opened).toBe(2);
  });

  it("reads the order dashboard again when its stream says an order changed, and after the stream came back", async () => {
    let state = OrderState.PLACED;
    let reads = 0;
    let opened = 0;
    const changed = Promise.withResolvers<void>();
    const filters: unknown[] = [];
    renderWith(
      (router) => {
        router.service(DashboardService, {
          listOrderStatuses: () => {
            reads++;
            return { orders: [{ orderId: "o-00000001", customerId: "bob", productId: "espresso", state }] };
          },
          async *watchOrderStatuses(request) {
            opened++;
            filters.push({ customerId: request.customerId, planId: request.planId, state: request.state });
            yield {}; // listening: read the list
            if (opened > 1) return await new Promise<never>(() => {}); // stays open
            await changed.promise;
            yield { order: { orderId: "o-00000001", state } };
            throw new ConnectError("connection reset", Code.Unavailable);
          },
        });
      },
      <OrderDashboard />,
    );
    await screen.findByRole("cell", { name: "placed" });
    await screen.findByText("live");
    const before = reads;
    state = OrderState.DELIVERING;
    changed.resolve();
    await screen.findByRole("cell", { name: "delivering" });
    await screen.findByText("connection lost, reconnecting…");
    await screen.findByText("live", undefined, { timeout: 3_000 });
    // Once on the change, once when the stream was back: each read follows a message, none a timer.
    await waitFor(() => expect(reads).toBe(before + 2));
    expect(opened).toBe(2);
    expect(filters).toEqual([
      { customerId: "", planId: "", state: OrderState.UNSPECIFIED },
      { customerId: "", planId: "", state: OrderState.UNSPECIFIED },
    ]);
  });

  it("lists a hospital's day, and shows a refused decision on the note or in its reservation's row", async () => {
    const asked: unknown[] = [];
    const reservation = (id: string, personId: string) => ({
      reservationId: id,
      personId,
      hospitalId: "h1",
      vaccineId: "v1",
      date: "2030-01-02",
      status: ReservationStatus.REGISTERED,
    });
    renderWith(
      (router) => {
        router.service(InventoryService, {
          listHospitals: () => ({ hospitals: [{ hospitalId: "h1", name: "Seoul", dailyCapacity: 2 }] }),
          listVaccines: () => ({ vaccines: [{ vaccineId: "v1", name: "Vaxo", dosesRequired: 1 }] }),
        });
        router.service(VaccinationDashboardService, { getDailyReservations: () => ({ days: [] }) });
        router.service(ReservationService, {
          listReservations: (request) => {
            asked.push({ hospitalId: request.hospitalId, date: request.date, personId: request.personId });
            return { reservations: [reservation("r-1", "ann"), reservation("r-2", "ben")] };
          },
          rejectReservation: () => {
            throw new ConnectError("note: is required", Code.InvalidArgument, undefined, [
              { desc: FieldViolationSchema, value: { field: "note", description: "is required" } },
            ]);
          },
          acceptReservation: () => {
            throw new ConnectError("not registered", Code.FailedPrecondition, undefined, [
              {
                desc: PreconditionFailureSchema,
                value: { rule: "reservation-must-be-registered", description: "already decided" },
              },
            ]);
          },
        });
      },
      <DayView />,
    );
    await screen.findAllByRole("option", { name: "Seoul" });
    fireEvent.change(screen.getByLabelText("Day"), { target: { value: "2030-01-02" } });
    fireEvent.click(screen.getByRole("button", { name: "Show the day" }));
    await screen.findByRole("cell", { name: "ann" });
    expect(asked[0]).toEqual({ hospitalId: "h1", date: "2030-01-02", personId: "" });

    fireEvent.click(screen.getByRole("button", { name: "Reject ann" }));
    const note = screen.getByLabelText("Note for the person (needed to reject or cancel)");
    await waitFor(() => expect(note.getAttribute("aria-invalid")).toBe("true"));

    fireEvent.click(screen.getByRole("button", { name: "Accept ben" }));
    const refusal = await screen.findByText("already decided (rule: reservation-must-be-registered)");
    expect(refusal.closest("tr")?.textContent).toContain("ben");
    expect(note.getAttribute("aria-invalid")).toBeNull();
  });
});
