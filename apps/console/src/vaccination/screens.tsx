// The vaccination actors: vaccine manager, reservation manager and the person to be vaccinated.
import { createClient } from "@connectrpc/connect";
import { useQuery, useTransport } from "@connectrpc/connect-query";
import { VaccinationDashboardService } from "@hexa/proto/vaccination/dashboard/v1/dashboard_pb";
import {
  type Hospital,
  InventoryService,
  type Vaccine,
} from "@hexa/proto/vaccination/inventory/v1/inventory_pb";
import {
  type Notification,
  NotificationKind,
  NotificationService,
} from "@hexa/proto/vaccination/notification/v1/notification_pb";
import {
  type Reservation,
  ReservationService,
  ReservationStatus,
} from "@hexa/proto/vaccination/reservation/v1/reservation_pb";
import { VaccinationService, VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import { skipToken } from "@tanstack/react-query";
import { useState } from "react";
import { useAction } from "../action.ts";
import { refusalOf } from "../errors.ts";
import { useStream } from "../live.ts";
import type { ScreenProps } from "../screens.ts";
import {
  enumLabel,
  Field,
  formValues,
  RefusalMessage,
  Section,
  StreamBadge,
  shortId,
  Table,
  When,
} from "../ui.tsx";
import { datesFrom, today } from "./chart-data.ts";

const statusLabel = (status: ReservationStatus) => enumLabel(ReservationStatus, status);

function useHospitals(): readonly Hospital[] {
  return useQuery(InventoryService.method.listHospitals, { pageSize: 100 }).data?.hospitals ?? [];
}

function useVaccines(): readonly Vaccine[] {
  return useQuery(InventoryService.method.listVaccines, { pageSize: 100 }).data?.vaccines ?? [];
}

function Choices({ items }: { items: readonly { id: string; name: string }[] }) {
  return (
    <>
      {items.map((item) => (
        <option key={item.id} value={item.id}>
          {item.name}
        </option>
      ))}
    </>
  );
}

const hospitalChoices = (hospitals: readonly Hospital[]) =>
  hospitals.map((hospital) => ({ id: hospital.hospitalId, name: hospital.name }));
const vaccineChoices = (vaccines: readonly Vaccine[]) =>
  vaccines.map((vaccine) => ({ id: vaccine.vaccineId, name: vaccine.name }));

export function Inventory() {
  const hospitals = useHospitals();
  const vaccines = useVaccines();
  const registerHospital = useAction(InventoryService.method.registerHospital);
  const registerVaccine = useAction(InventoryService.method.registerVaccine);
  const supply = useAction(InventoryService.method.supplyVaccine);
  const available = useAction(InventoryService.method.registerAvailableDoses);
  const discard = useAction(InventoryService.method.discardDoses);
  const vaccinate = useAction(VaccinationService.method.recordVaccination);
  const [stockOf, setStockOf] = useState("");
  const stock = useQuery(
    InventoryService.method.getHospitalStock,
    stockOf ? { hospitalId: stockOf } : skipToken,
  );
  const name = (id: string) => vaccines.find((vaccine) => vaccine.vaccineId === id)?.name ?? id;
  const submit =
    (work: (values: Record<string, string>) => void) => (event: React.FormEvent<HTMLFormElement>) => {
      event.preventDefault();
      work(formValues(event.currentTarget));
    };
  return (
    <>
      <Section title="Hospitals">
        <form
          aria-label="Register a hospital"
          onSubmit={submit(
            (v) => void registerHospital.run({ name: v.name, dailyCapacity: Number(v.dailyCapacity) }),
          )}
        >
          <Field label="Hospital name" name="name" refusal={registerHospital.refusal} />
          <Field
            label="Daily capacity"
            name="dailyCapacity"
            type="number"
            defaultValue={20}
            refusal={registerHospital.refusal}
          />
          <button type="submit">Register hospital</button>
          <RefusalMessage refusal={registerHospital.refusal} />
        </form>
        <Table
          caption="Registered hospitals"
          head={["Hospital", "Daily capacity", "Registered"]}
          rows={hospitals.map((hospital) => [
            hospital.name,
            hospital.dailyCapacity,
            <When key="at" at={hospital.registeredAt} />,
          ])}
        />
      </Section>
      <Section title="Vaccines">
        <form
          aria-label="Register a vaccine"
          onSubmit={submit(
            (v) =>
              void registerVaccine.run({
                name: v.name,
                vials: Number(v.vials),
                dosesRequired: Number(v.dosesRequired),
              }),
          )}
        >
          <Field label="Vaccine name" name="name" refusal={registerVaccine.refusal} />
          <Field
            label="Vials in stock"
            name="vials"
            type="number"
            defaultValue={100}
            refusal={registerVaccine.refusal}
          />
          <Field
            label="Doses per person"
            name="dosesRequired"
            type="number"
            defaultValue={1}
            refusal={registerVaccine.refusal}
          />
          <button type="submit">Register vaccine</button>
          <RefusalMessage refusal={registerVaccine.refusal} />
        </form>
        <Table
          caption="Registered vaccines"
          head={["Vaccine", "Vials in stock", "Doses per person"]}
          rows={vaccines.map((vaccine) => [vaccine.name, vaccine.vialsInStock, vaccine.dosesRequired])}
        />
      </Section>
      <Section title="Supply and available doses">
        <form
          aria-label="Supply a hospital"
          onSubmit={submit(
            (v) =>
              void supply.run({ hospitalId: v.hospitalId, vaccineId: v.vaccineId, vials: Number(v.vials) }),
          )}
        >
          <Field label="Hospital" name="hospitalId" refusal={supply.refusal}>
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
          <Field label="Vaccine" name="vaccineId" refusal={supply.refusal}>
            <Choices items={vaccineChoices(vaccines)} />
          </Field>
          <Field label="Vials" name="vials" type="number" defaultValue={10} refusal={supply.refusal} />
          <button type="submit">Supply</button>
          <RefusalMessage refusal={supply.refusal} />
          {supply.result?.supply && <p role="status">Supply {supply.result.supply.supplyId} delivered.</p>}
        </form>
        <form
          aria-label="Register available doses"
          onSubmit={submit((v) => void available.run({ supplyId: v.supplyId, doses: Number(v.doses) }))}
        >
          <Field
            label="Supply id"
            name="supplyId"
            key={supply.result?.supply?.supplyId}
            defaultValue={supply.result?.supply?.supplyId ?? ""}
            refusal={available.refusal}
          />
          <Field
            label="Doses that can be given"
            name="doses"
            type="number"
            defaultValue={10}
            refusal={available.refusal}
          />
          <button type="submit">Register available doses</button>
          <RefusalMessage refusal={available.refusal} />
          {available.result?.stock && (
            <p role="status">{available.result.stock.bookable} doses bookable now.</p>
          )}
        </form>
      </Section>
      <Section title="Discard doses">
        <form
          aria-label="Discard doses"
          onSubmit={submit(
            (v) =>
              void discard.run({
                hospitalId: v.hospitalId,
                vaccineId: v.vaccineId,
                doses: Number(v.doses),
                reason: v.reason,
              }),
          )}
        >
          <Field label="Hospital" name="hospitalId" refusal={discard.refusal}>
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
          <Field label="Vaccine" name="vaccineId" refusal={discard.refusal}>
            <Choices items={vaccineChoices(vaccines)} />
          </Field>
          <Field label="Doses" name="doses" type="number" defaultValue={1} refusal={discard.refusal} />
          <Field label="Reason" name="reason" refusal={discard.refusal} />
          <button type="submit">Discard</button>
          <RefusalMessage refusal={discard.refusal} />
        </form>
      </Section>
      <Section title="Record a vaccination">
        <form
          aria-label="Record a vaccination"
          onSubmit={submit(
            (v) =>
              void vaccinate.run({
                personId: v.personId,
                hospitalId: v.hospitalId,
                vaccineId: v.vaccineId,
                reservationId: v.reservationId,
              }),
          )}
        >
          <Field label="Person" name="personId" refusal={vaccinate.refusal} />
          <Field label="Hospital" name="hospitalId" refusal={vaccinate.refusal}>
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
          <Field label="Vaccine" name="vaccineId" refusal={vaccinate.refusal}>
            <Choices items={vaccineChoices(vaccines)} />
          </Field>
          <Field label="Reservation id (optional)" name="reservationId" refusal={vaccinate.refusal} />
          <button type="submit">Record vaccination</button>
          <RefusalMessage refusal={vaccinate.refusal} />
          {vaccinate.result?.record && (
            <p role="status">
              Dose {vaccinate.result.record.doseNumber} of {vaccinate.result.record.dosesRequired} recorded.
            </p>
          )}
        </form>
      </Section>
      <Section title="Stock of a hospital">
        <form
          className="inline"
          aria-label="Show a hospital's stock"
          onSubmit={submit((v) => setStockOf(v.hospitalId ?? ""))}
        >
          <Field label="Hospital" name="hospitalId">
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
          <button type="submit">Show stock</button>
        </form>
        {stockOf && (
          <Table
            caption="Doses per vaccine"
            head={[
              "Vaccine",
              "Supplied vials",
              "Available",
              "Given",
              "Discarded",
              "Remaining",
              "Booked",
              "Bookable",
            ]}
            rows={(stock.data?.stocks ?? []).map((row) => [
              name(row.vaccineId),
              row.suppliedVials,
              row.available,
              row.given,
              row.discarded,
              row.remaining,
              row.booked,
              row.bookable,
            ])}
          />
        )}
      </Section>
    </>
  );
}

/** Capacity and booked slots of a hospital over the next two weeks (the dashboard's read model). */
function FreeSlots({ hospitalId }: { hospitalId: string }) {
  const dates = datesFrom(today(), 14);
  const days = useQuery(
    VaccinationDashboardService.method.getDailyReservations,
    hospitalId ? { hospitalId, fromDate: dates[0], toDate: dates.at(-1) } : skipToken,
  );
  return (
    <Table
      caption="Free slots per day"
      head={["Date", "Capacity", "Booked", "Free"]}
      rows={(days.data?.days ?? []).map((day) => [
        day.date,
        day.dailyCapacity,
        day.taken,
        Math.max(0, day.dailyCapacity - day.taken),
      ])}
    />
  );
}

export function Booking({ subject }: ScreenProps) {
  const hospitals = useHospitals();
  const vaccines = useVaccines();
  const [hospitalId, setHospitalId] = useState("");
  const chosen = hospitalId || hospitals[0]?.hospitalId || "";
  const reserve = useAction(ReservationService.method.reserve);
  const join = useAction(ReservationService.method.joinWaitlist);
  const [asked, setAsked] = useState<{ hospitalId: string; vaccineId: string }>();
  const outcome = reserve.result?.outcome;
  return (
    <>
      <Section title="Book">
        <form
          onSubmit={(event) => {
            event.preventDefault();
            const values = formValues(event.currentTarget);
            const choice = { hospitalId: values.hospitalId ?? "", vaccineId: values.vaccineId ?? "" };
            setAsked(choice);
            void reserve.run({
              personId: subject,
              ...choice,
              date: values.date,
              idempotencyKey: crypto.randomUUID(),
            });
          }}
        >
          <Field label="Hospital" name="hospitalId" refusal={reserve.refusal}>
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
          <Field label="Vaccine" name="vaccineId" refusal={reserve.refusal}>
            <Choices items={vaccineChoices(vaccines)} />
          </Field>
          <Field
            label="Date"
            name="date"
            type="date"
            defaultValue={datesFrom(today(), 2)[1]}
            refusal={reserve.refusal}
          />
          {/* Nothing to book until the hospitals and vaccines are known. */}
          <button type="submit" disabled={reserve.pending || hospitals.length === 0 || vaccines.length === 0}>
            Book
          </button>
          <RefusalMessage refusal={reserve.refusal} />
          {outcome?.case === "reservation" && (
            <p role="status">
              Booked for {outcome.value.date}: {statusLabel(outcome.value.status)}.
            </p>
          )}
          {outcome?.case === "waitlistOffer" && asked && (
            <div className="offer" role="status">
              <p>
                {outcome.value.message || "No slot can be booked here now."} You can join the waitlist and be
                told when doses are bookable.
              </p>
              {join.result?.reservation ? (
                <p>You are on the waitlist.</p>
              ) : (
                <button type="button" onClick={() => void join.run({ personId: subject, ...asked })}>
                  Join the waitlist
                </button>
              )}
              <RefusalMessage refusal={join.refusal} />
            </div>
          )}
        </form>
      </Section>
      <Section title="Free slots">
        <form
          className="inline"
          aria-label="Choose a hospital for its free slots"
          onChange={(event) => setHospitalId(formValues(event.currentTarget).hospitalId ?? "")}
        >
          <Field label="Hospital to show" name="hospitalId">
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
        </form>
        {chosen && <FreeSlots hospitalId={chosen} />}
      </Section>
    </>
  );
}

/** A person's notifications: the list, then each new one as it arrives (WatchNotifications). */
function Notifications({ personId }: { personId: string }) {
  const transport = useTransport();
  const listed = useQuery(NotificationService.method.listNotifications, { personId, pageSize: 50 });
  const [arrived, setArrived] = useState<Notification[]>([]);
  const state = useStream(
    (options) => {
      const client = createClient(NotificationService, transport);
      return (async function* () {
        for await (const message of client.watchNotifications({ personId }, options)) {
          if (message.notification) yield message.notification;
        }
      })();
    },
    (notification) => setArrived((current) => [notification, ...current]),
    personId,
  );
  const seen = new Set<string>();
  const all = [...arrived, ...(listed.data?.notifications ?? [])].filter((notification) => {
    if (seen.has(notification.notificationId)) return false;
    seen.add(notification.notificationId);
    return true;
  });
  return (
    <Section title="Notifications" aside={<StreamBadge state={state} />}>
      <ul className="notifications" aria-live="polite">
        {all.map((notification) => (
          <li key={notification.notificationId}>
            <When at={notification.createdAt} /> —{" "}
            <strong>{enumLabel(NotificationKind, notification.kind)}</strong>: {notification.text}
          </li>
        ))}
      </ul>
      {all.length === 0 && <p className="empty">No notification yet.</p>}
    </Section>
  );
}

export function MyReservations({ subject }: ScreenProps) {
  const reservations = useQuery(
    ReservationService.method.listReservations,
    { personId: subject, pageSize: 50 },
    { refetchInterval: 3_000 },
  );
  const status = useQuery(VaccinationService.method.getPersonStatus, { personId: subject });
  const cancel = useAction(ReservationService.method.cancelReservation);
  return (
    <>
      <Section title="Reservations">
        <RefusalMessage refusal={cancel.refusal} />
        <ReservationTable
          reservations={reservations.data?.reservations ?? []}
          actions={(reservation) =>
            [
              ReservationStatus.REGISTERED,
              ReservationStatus.CONFIRMED,
              ReservationStatus.WAITLISTED,
            ].includes(reservation.status) && (
              <button
                type="button"
                onClick={() => void cancel.run({ reservationId: reservation.reservationId })}
              >
                Cancel reservation {reservation.date || "on the waitlist"}
              </button>
            )
          }
        />
      </Section>
      <Section title="Vaccination status">
        <Table
          caption="Doses per vaccine"
          empty="Not vaccinated yet."
          head={["Vaccine", "Doses given", "Doses required", "Status", "Last dose"]}
          rows={(status.data?.vaccinations ?? []).map((vaccination) => [
            vaccination.vaccineId,
            vaccination.dosesGiven,
            vaccination.dosesRequired,
            enumLabel(VaccinationStatus, vaccination.status),
            <When key="at" at={vaccination.lastDoseAt} />,
          ])}
        />
      </Section>
      <Notifications personId={subject} />
    </>
  );
}

function ReservationTable(props: {
  reservations: readonly Reservation[];
  actions: (reservation: Reservation) => React.ReactNode;
}) {
  return (
    <Table
      caption="Reservations"
      empty="No reservation."
      head={["Reservation", "Person", "Hospital", "Vaccine", "Date", "Status", "Note", ""]}
      rows={props.reservations.map((reservation) => [
        // In full: the person shows it where the dose is given.
        <code key="id">{reservation.reservationId}</code>,
        reservation.personId,
        shortId(reservation.hospitalId),
        shortId(reservation.vaccineId),
        reservation.date || "waitlist",
        statusLabel(reservation.status),
        reservation.note,
        <span key="actions" className="actions">
          {props.actions(reservation)}
        </span>,
      ])}
    />
  );
}

/** Which decision a reservation manager last took, on which reservation: its refusal shows in that row. */
type Decision = "accept" | "reject" | "cancel";

/**
 * The reservation manager's day view: one hospital's reservations of one day, first booked first,
 * a page at a time, with accept, reject and cancel. A refused decision shows in its row (a rule) or
 * on the note (a missing note); a refused day on the hospital or date.
 */
export function DayView() {
  const hospitals = useHospitals();
  const vaccines = useVaccines();
  const [day, setDay] = useState<{ hospitalId: string; date: string }>();
  // The tokens of the pages seen so far: the last is the page shown.
  const [tokens, setTokens] = useState<readonly string[]>([""]);
  const [note, setNote] = useState("");
  const [last, setLast] = useState<{ decision: Decision; reservationId: string }>();
  const listed = useQuery(
    ReservationService.method.listReservations,
    day ? { ...day, pageSize: DAY_PAGE_SIZE, pageToken: tokens.at(-1) ?? "" } : skipToken,
    { refetchInterval: 5_000 },
  );
  const dayRefusal = listed.error ? refusalOf(listed.error) : undefined;
  const actions = {
    accept: useAction(ReservationService.method.acceptReservation),
    reject: useAction(ReservationService.method.rejectReservation),
    cancel: useAction(ReservationService.method.cancelReservationAsManager),
  };
  const decide = (decision: Decision, reservationId: string) => {
    setLast({ decision, reservationId });
    void (decision === "accept"
      ? actions.accept.run({ reservationId })
      : actions[decision].run({ reservationId, note }));
  };
  const refusal = last && actions[last.decision].refusal;
  const vaccineName = (id: string) =>
    vaccines.find((vaccine) => vaccine.vaccineId === id)?.name ?? shortId(id);
  const next = listed.data?.nextPageToken ?? "";
  return (
    <>
      <Section title="A hospital's day">
        <form
          className="inline"
          aria-label="Choose a hospital and a day"
          onSubmit={(event) => {
            event.preventDefault();
            const values = formValues(event.currentTarget);
            setDay({ hospitalId: values.hospitalId ?? "", date: values.date ?? "" });
            setTokens([""]);
            setLast(undefined);
          }}
        >
          <Field label="Hospital" name="hospitalId" refusal={dayRefusal}>
            <Choices items={hospitalChoices(hospitals)} />
          </Field>
          <Field label="Day" name="date" type="date" defaultValue={today()} refusal={dayRefusal} />
          <button type="submit" disabled={hospitals.length === 0}>
            Show the day
          </button>
        </form>
        {dayRefusal && Object.keys(dayRefusal.fields).length === 0 && <RefusalMessage refusal={dayRefusal} />}
        <Field
          label="Note for the person (needed to reject or cancel)"
          name="note"
          refusal={last?.decision === "accept" ? undefined : refusal}
          onChange={setNote}
        />
        {day && (
          <Table
            caption={`Reservations of ${day.date}`}
            empty="No reservation on this day."
            head={["Reservation", "Person", "Vaccine", "Status", "Note", "Booked", ""]}
            rows={(listed.data?.reservations ?? []).map((reservation) => [
              <code key="id">{reservation.reservationId}</code>,
              reservation.personId,
              vaccineName(reservation.vaccineId),
              statusLabel(reservation.status),
              reservation.note,
              <When key="at" at={reservation.createdAt} />,
              <span key="actions" className="actions">
                {reservation.status === ReservationStatus.REGISTERED && (
                  <>
                    <button type="button" onClick={() => decide("accept", reservation.reservationId)}>
                      Accept {reservation.personId}
                    </button>
                    <button type="button" onClick={() => decide("reject", reservation.reservationId)}>
                      Reject {reservation.personId}
                    </button>
                  </>
                )}
                {(reservation.status === ReservationStatus.REGISTERED ||
                  reservation.status === ReservationStatus.CONFIRMED) && (
                  <button type="button" onClick={() => decide("cancel", reservation.reservationId)}>
                    Cancel {reservation.personId}
                  </button>
                )}
                {last?.reservationId === reservation.reservationId &&
                  refusal &&
                  Object.keys(refusal.fields).length === 0 && <RefusalMessage refusal={refusal} />}
              </span>,
            ])}
          />
        )}
        {(tokens.length > 1 || next !== "") && (
          <div className="pager">
            <button
              type="button"
              disabled={tokens.length === 1}
              onClick={() => setTokens((seen) => seen.slice(0, -1))}
            >
              Previous page
            </button>
            <button type="button" disabled={next === ""} onClick={() => setTokens((seen) => [...seen, next])}>
              Next page
            </button>
          </div>
        )}
      </Section>
      {day && (
        <Section title="Capacity of the next days">
          <FreeSlots hospitalId={day.hospitalId} />
        </Section>
      )}
    </>
  );
}

const DAY_PAGE_SIZE = 20;
