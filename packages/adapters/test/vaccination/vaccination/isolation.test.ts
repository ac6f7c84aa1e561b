/**
 * Fault isolation: vaccinations are recorded while no other service runs. Only vaccination's module
 * is started; what inventory and reservation published before they went down is all vaccination
 * needs, and the VaccinationRecorded events wait (in the outbox while the bus is unreachable, in
 * JetStream once published) for inventory and reservation to come back.
 */
import { randomUUID } from "node:crypto";
import { connectJetStreamBus } from "@hexa/adapters/jetstream/bus";
import { deleteNamespaceStreams } from "@hexa/adapters/jetstream/streams";
import { type EventBus, type EventEnvelope, streamOf } from "@hexa/adapters/messaging/bus";
import { type RunningServices, startServices } from "@hexa/adapters/runtime/start";
import { vaccinationModule } from "@hexa/adapters/vaccination/vaccination/module";
import { VaccinationService, VaccinationStatus } from "@hexa/proto/vaccination/vaccination/v1/vaccination_pb";
import {
  connectJsonClient,
  createTestDatabase,
  describeWithNats,
  eventually,
  natsUrl,
  query,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  hospitalRegistered,
  newIds,
  outboxOf,
  reservationRegistered,
  STARTED_AT,
  startVaccination,
  stockChanged,
  type VaccinationHarness,
  vaccineRegistered,
} from "./support.ts";

const RECORDED = "vaccination.vaccination.v1.VaccinationRecorded";

/** A bus whose publishes fail while `down`, as when the broker is unreachable; everything else passes through. */
class UnreachableWhileDown implements EventBus {
  down = true;
  readonly #bus: EventBus;
  constructor(bus: EventBus) {
    this.#bus = bus;
  }
  get deadLetters() {
    return this.#bus.deadLetters;
  }
  async publish(event: EventEnvelope): Promise<void> {
    if (this.down) throw new Error("the bus is unreachable");
    await this.#bus.publish(event);
  }
  subscribe(...args: Parameters<EventBus["subscribe"]>) {
    return this.#bus.subscribe(...args);
  }
  async isReady(): Promise<boolean> {
    return !this.down && (await this.#bus.isReady());
  }
  close(): Promise<void> {
    return this.#bus.close();
  }
}

describe("recording with the bus unreachable", () => {
  let vaccination: VaccinationHarness | undefined;
  afterEach(async () => {
    await vaccination?.stop();
  });

  it("records doses, keeps their events in the outbox, and publishes them once the bus is back", async () => {
    let outage: UnreachableWhileDown | undefined;
    vaccination = await startVaccination({
      bus: (embedded) => {
        outage = new UnreachableWhileDown(embedded);
        return outage;
      },
    });
    const running = vaccination;
    const { hospitalId, twoDoses: vaccineId } = newIds();
    const personId = `person-${randomUUID().slice(0, 8)}`;
    const reservationId = randomUUID();
    // What inventory and reservation published before they went down.
    await running.publish(
      hospitalRegistered(hospitalId),
      vaccineRegistered(vaccineId, 2),
      stockChanged({ hospitalId, vaccineId, bookable: 3, changedAt: STARTED_AT }),
      reservationRegistered({ reservationId, personId, hospitalId, vaccineId }),
    );

    const first = await running.client.recordVaccination({ personId, hospitalId, vaccineId, reservationId });
    const second = await running.client.recordVaccination({ personId, hospitalId, vaccineId });
    expect([first.record?.status, second.record?.status]).toEqual([
      VaccinationStatus.IN_PROGRESS,
      VaccinationStatus.COMPLETED,
    ]);
    const waiting = await outboxOf(running.databaseUrl, personId);
    expect(waiting.map((event) => [event.type, event.aggregateId, event.published])).toEqual([
      [RECORDED, personId, false],
      [RECORDED, personId, false],
    ]);

    // Reservation (or inventory) is back and listening, and so is the bus.
    const received: EventEnvelope[] = [];
    await running.bus.subscribe({
      name: "reservation-vaccination-recorded",
      eventType: RECORDED,
      handle: async (event) => {
        received.push(event);
      },
    });
    if (outage) outage.down = false;
    await eventually(async () => {
      expect(received.filter((event) => event.aggregateId === personId)).toHaveLength(2);
    }, 15_000);
    expect(received.map((event) => JSON.parse(event.payload).record.reservationId ?? "")).toEqual([
      reservationId,
      "",
    ]);
    expect((await outboxOf(running.databaseUrl, personId)).every((event) => event.published)).toBe(true);
  });
});

describeWithNats("recording with only vaccination running, on JetStream", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });

  it("builds its replicas from what inventory published earlier, records, and keeps the events in the stream for later consumers", async () => {
    const logger = pino({ level: "silent" });
    const namespace = uniqueNamespace();
    cleanups.push(async () => {
      await deleteNamespaceStreams(natsUrl(), namespace);
    });
    const open = async () => {
      const bus = await connectJetStreamBus({ url: natsUrl(), namespace, logger, pullExpiresMs: 1_000 });
      cleanups.push(() => bus.close());
      return bus;
    };

    // Inventory and reservation ran, published, and went down.
    const { hospitalId, twoDoses: vaccineId } = newIds();
    const personId = `person-${randomUUID().slice(0, 8)}`;
    const reservationId = randomUUID();
    const inventory = await open();
    for (const event of [
      hospitalRegistered(hospitalId),
      vaccineRegistered(vaccineId, 2),
      stockChanged({ hospitalId, vaccineId, bookable: 3, changedAt: STARTED_AT }),
      reservationRegistered({ reservationId, personId, hospitalId, vaccineId }),
    ]) {
      await inventory.publish(event);
    }
    await inventory.close();

    // Vaccination starts alone: no inventory, no reservation.
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const services: RunningServices = await startServices({
      modules: [vaccinationModule],
      databaseUrl: database.url,
      bus: await open(),
      host: "127.0.0.1",
      port: 0,
      logger,
      deliveryPolicy: { maxDeliver: 2, backoffMs: [100] },
      outboxIdleMs: 20,
    });
    cleanups.push(() => services.stop(1_000));
    const client = connectJsonClient(VaccinationService, services.url);

    await eventually(async () => {
      const [row] = await query<{ n: number }>(
        database.url,
        "select count(*)::int as n from vaccination_vaccination.inbox",
      );
      expect(row?.n).toBe(4);
    }, 15_000);
    const first = await client.recordVaccination({ personId, hospitalId, vaccineId, reservationId });
    const second = await client.recordVaccination({ personId, hospitalId, vaccineId });
    expect([first.record?.doseNumber, second.record?.doseNumber]).toEqual([1, 2]);

    await eventually(async () => {
      expect((await outboxOf(database.url, personId)).map((event) => event.published)).toEqual([true, true]);
    }, 15_000);
    const admin = await connect({ servers: natsUrl() });
    cleanups.push(() => admin.close());
    const manager = await jetstreamManager(admin);
    const stream = await manager.streams.info(streamOf("vaccination.vaccination.v1.Any", namespace).stream);
    expect(stream.state.messages).toBe(2);

    // Reservation comes up later: its new durable consumer receives both, keyed by the person.
    const reservation = await open();
    const received: EventEnvelope[] = [];
    await reservation.subscribe({
      name: "reservation-vaccination-recorded",
      eventType: RECORDED,
      handle: async (event) => {
        received.push(event);
      },
    });
    await eventually(async () => {
      expect(received).toHaveLength(2);
    }, 15_000);
    expect(received.map((event) => [event.aggregateId, JSON.parse(event.payload).record.doseNumber])).toEqual(
      [
        [personId, 1],
        [personId, 2],
      ],
    );
    expect(received.map((event) => event.id)).toEqual(
      (
        await query<{ event_id: string }>(
          database.url,
          "select event_id from vaccination_vaccination.outbox where aggregate_id = $1 order by position",
          [personId],
        )
      ).map((row) => row.event_id),
    );
  });
});
