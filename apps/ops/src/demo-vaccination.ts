// `./hexa demo vaccination` drives the vaccination story against a running deployment (by default the
// all-in-one on http://127.0.0.1:8080) through the public API. It prints every notification people
// receive as it is sent, and the dashboards at the end.
//
//   ./hexa demo vaccination [--url URL]     (default http://$HOST:$PORT, as ./hexa start)
import { ConnectError, createClient } from "@connectrpc/connect";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import { InventoryService } from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  NotificationKind,
  NotificationService,
} from "@hexa/proto/vaccination/notification/v1/notification_pb";
import {
  CancellationReason,
  type Reservation,
  ReservationService,
  ReservationStatus,
  WaitlistOffer_Reason,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationService, VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { actingAs, retriedWhileUnavailable, runDemo } from "./demo.ts";

const inventory = createClient(InventoryService, actingAs("vaccine-manager", "demo-vaccine-manager"));
/** The reservation manager; a person books and cancels through `reservationsOf`. */
const reservations = createClient(
  ReservationService,
  actingAs("reservation-manager", "demo-reservation-manager"),
);
const reservationsOf = (personId: string) => createClient(ReservationService, actingAs("person", personId));
const vaccination = createClient(VaccinationService, actingAs("vaccine-manager", "demo-vaccine-manager"));
const notificationsOf = (personId: string) => createClient(NotificationService, actingAs("person", personId));
const dashboard = createClient(
  VaccinationDashboardService,
  actingAs("reservation-manager", "demo-reservation-manager"),
);
const started = Date.now();
const run = Date.now().toString(36);

function say(text: string): void {
  console.log(`${((Date.now() - started) / 1000).toFixed(2).padStart(6)}s  ${text}`);
}

/**
 * Prints each notification a person receives, once, as soon as it is stored (the stream sends it
 * again when it is sent), until `stop` is aborted.
 */
async function watch(personId: string, stop: AbortSignal): Promise<void> {
  const printed = new Set<string>();
  try {
    for await (const { notification } of notificationsOf(personId).watchNotifications(
      { personId },
      { signal: stop },
    )) {
      if (!notification || printed.has(notification.notificationId)) continue;
      printed.add(notification.notificationId);
      say(`  [notification to ${personId.split("-")[0]}] ${notification.text}`);
    }
  } catch (error) {
    if (!stop.aborted) say(`  [notifications] watch ended: ${ConnectError.from(error).message}`);
  }
}

/** Retries `check` until it passes: events take a moment to travel between services. */
async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
    await new Promise((resume) => setTimeout(resume, 100));
  }
}

async function statusOf(reservationId: string, status: ReservationStatus): Promise<Reservation> {
  return eventually(`reservation ${reservationId} ${ReservationStatus[status]}`, async () => {
    const { reservation } = await reservations.getReservation({ reservationId });
    return reservation?.status === status ? reservation : undefined;
  });
}

function tomorrow(): string {
  return new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
}

async function story(): Promise<void> {
  const stop = new AbortController();
  const people = ["alice", "bob", "carol", "dave"].map((name) => `${name}-${run}`);
  const [alice, bob, carol, dave] = people as [string, string, string, string];
  const watchers = people.map((person) => watch(person, stop.signal));
  const date = tomorrow();

  say("the administrator registers a hospital (3 vaccinations a day) and a two-dose vaccine");
  const { hospital } = await inventory.registerHospital({ name: `City Hospital ${run}`, dailyCapacity: 3 });
  const { vaccine } = await inventory.registerVaccine({ name: `Vaxa ${run}`, vials: 100, dosesRequired: 2 });
  const hospitalId = hospital?.hospitalId ?? "";
  const vaccineId = vaccine?.vaccineId ?? "";
  const { supply } = await inventory.supplyVaccine({ hospitalId, vaccineId, vials: 2 });
  say("the vaccine manager registers 4 doses of the supply as available");
  await inventory.registerAvailableDoses({ supplyId: supply?.supplyId ?? "", doses: 4 });

  const reserve = async (personId: string) => {
    const answer = await eventually(`${personId} reserves`, async () => {
      const reply = await reservationsOf(personId).reserve({ personId, hospitalId, vaccineId, date });
      // Until vaccination, reservation and the dashboards have the hospital, a booking may wait.
      return reply.outcome.case === "waitlistOffer" &&
        reply.outcome.value.reason === WaitlistOffer_Reason.NO_DOSES
        ? undefined
        : reply;
    });
    return answer;
  };

  say(`1. alice, bob and carol book ${date}: the day is then full`);
  const booked: Record<string, string> = {};
  for (const person of [alice, bob, carol]) {
    const { outcome } = await reserve(person);
    if (outcome.case !== "reservation")
      throw new Error(`${person} could not book: ${JSON.stringify(outcome.value)}`);
    booked[person] = outcome.value.reservationId;
    say(`  ${person.split("-")[0]} booked: REGISTERED`);
  }
  await reservations.acceptReservation({ reservationId: booked[alice] ?? "" });
  say("  the reservation manager accepts alice's booking: CONFIRMED");

  say("2. dave tries the same day: it is full, so the answer offers the waitlist, and he joins it");
  const full = await reservationsOf(dave).reserve({ personId: dave, hospitalId, vaccineId, date });
  if (full.outcome.case === "waitlistOffer") {
    say(`  offer: ${WaitlistOffer_Reason[full.outcome.value.reason]}: ${full.outcome.value.message}`);
  }
  await reservationsOf(dave).joinWaitlist({ personId: dave, hospitalId, vaccineId });

  say("3. the vaccine manager discards 2 doses: 2 remain for 3 bookings, so the latest booking is cancelled");
  await inventory.discardDoses({ hospitalId, vaccineId, doses: 2, reason: "cold chain broken" });
  const cancelled = await statusOf(booked[carol] ?? "", ReservationStatus.CANCELLED);
  say(
    `  carol's booking: CANCELLED (${CancellationReason[cancelled.cancellationReason]}); the waitlist is not alerted`,
  );

  say("4. alice gets her first dose");
  // Vaccination checks the reservation is alice's once it has heard of it (ReservationRegistered).
  const { record } = await retriedWhileUnavailable(() =>
    vaccination.recordVaccination({
      personId: alice,
      hospitalId,
      vaccineId,
      reservationId: booked[alice] ?? "",
    }),
  );
  say(`  dose ${record?.doseNumber} of ${record?.dosesRequired}: ${VaccinationStatus[record?.status ?? 0]}`);
  await statusOf(booked[alice] ?? "", ReservationStatus.VACCINATED);

  say("5. bob cancels his own booking: a dose is bookable again, so dave (waitlisted) is alerted");
  await reservationsOf(bob).cancelReservation({ reservationId: booked[bob] ?? "" });
  await statusOf(booked[bob] ?? "", ReservationStatus.CANCELLED);
  await eventually("dave's waitlist alert", async () => {
    const { notifications: received } = await notificationsOf(dave).listNotifications({ personId: dave });
    return received.some((notification) => notification.kind === NotificationKind.WAITLIST_ALERT)
      ? true
      : undefined;
  });

  say("the dashboards, built only from events:");
  const count = await eventually("the vaccination count", async () => {
    const answer = await dashboard.getVaccinationCount({});
    return answer.perVaccine.some((v) => v.vaccineId === vaccineId && v.vaccinations > 0n)
      ? answer
      : undefined;
  });
  const mine = count.perVaccine.find((v) => v.vaccineId === vaccineId);
  say(`  vaccinations with ${mine?.vaccineName}: ${mine?.vaccinations}`);
  const { hospitals } = await dashboard.listHospitalRates({});
  const rates = hospitals.find((h) => h.hospitalId === hospitalId);
  say(
    `  ${rates?.hospitalName}: vaccination rate ${rates?.vaccinationRate.toFixed(2)}, discard rate ${rates?.discardRate.toFixed(2)}`,
  );
  const { days } = await dashboard.getDailyReservations({ hospitalId, fromDate: date, toDate: date });
  const day = days[0];
  say(
    `  ${date}: capacity ${day?.dailyCapacity}, taken ${day?.taken} (vaccinated ${day?.vaccinated}, cancelled ${day?.cancelled})`,
  );
  const { stocks } = await dashboard.listHospitalStock({ hospitalId });
  const stock = stocks[0];
  say(
    `  stock: available ${stock?.available}, given ${stock?.given}, discarded ${stock?.discarded}, bookable ${stock?.bookable}`,
  );

  await new Promise((resume) => setTimeout(resume, 500));
  stop.abort();
  await Promise.all(watchers);
  say("done");
}

await runDemo(story);
