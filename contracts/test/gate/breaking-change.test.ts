import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFileRegistry, type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { EventEnvelope } from "@hexa/adapters/messaging/bus";
import { decodeEvent, encodeEvent } from "@hexa/adapters/messaging/encoding";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import type { OrderPlaced } from "@hexa/core/trial/order";
import { OrderPlacedSchema } from "@hexa/proto/trial/order/v1/events_pb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventDescription, messageOf, messageProvidersOf } from "../../src/messages.ts";
import { pactsOf } from "../../src/pacts.ts";
import { repositoryRoot } from "../../src/paths.ts";
import { verifyPact } from "../../src/provider.ts";
import { orderEvents, orderPlaced } from "../../src/published/order.ts";

/**
 * Proof that the gates catch a breaking change, made on copies only: order renames
 * OrderPlaced.quantity, a field warehouse relies on, to `units`. buf breaking refuses the proto
 * change, and warehouse's pact refuses an order that publishes it, naming the field.
 */
const buf = join(repositoryRoot, "node_modules/.bin/buf");
const EVENTS_PROTO = "proto/trial/order/v1/events.proto";

describe("a breaking change to an event is caught", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hexa-breaking-"));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the buf module (buf.yaml and proto/), with OrderPlaced's field 5 changed to `field`. */
  function protoCopy(name: string, field?: string): string {
    const copy = join(dir, name);
    cpSync(join(repositoryRoot, "buf.yaml"), join(copy, "buf.yaml"));
    cpSync(join(repositoryRoot, "proto"), join(copy, "proto"), { recursive: true });
    if (field) {
      const path = join(copy, EVENTS_PROTO);
      const text = readFileSync(path, "utf8");
      const changed = text.replace(
        /(message OrderPlaced \{[^}]*?)int32 quantity = 5;/,
        (_, before: string) => `${before}${field}`,
      );
      expect(changed, "the copy of OrderPlaced was changed").not.toBe(text);
      writeFileSync(path, changed);
    }
    return copy;
  }

  function bufRun(args: string[]): { status: number | null; output: string } {
    const run = spawnSync(buf, args, { encoding: "utf8" });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  }

  it("buf breaking passes an unchanged copy (the control)", () => {
    const against = protoCopy("base");
    const same = protoCopy("same");
    expect(bufRun(["breaking", same, "--against", against])).toMatchObject({ status: 0 });
  });

  it("buf breaking fails a renamed field, naming it", () => {
    const against = protoCopy("base-renamed");
    const renamed = protoCopy("renamed", "int32 units = 5;");
    const result = bufRun(["breaking", renamed, "--against", against]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('on message "OrderPlaced" changed name from "quantity" to "units"');
  });

  it("buf breaking fails a renumbered field, naming it", () => {
    const against = protoCopy("base-renumbered");
    const renumbered = protoCopy("renumbered", "int32 quantity = 9;");
    const result = bufRun(["breaking", renumbered, "--against", against]);
    expect(result.status).not.toBe(0);
    expect(result.output).toContain('field "5" with name "quantity" on message "OrderPlaced" was deleted');
  });

  /** OrderPlaced as the renamed copy of the proto defines it, compiled by buf. */
  function renamedOrderPlaced(): DescMessage {
    const image = join(dir, "renamed.binpb");
    const built = bufRun([
      "build",
      protoCopy("renamed-build", "int32 units = 5;"),
      "--as-file-descriptor-set",
      "-o",
      image,
    ]);
    expect(built).toMatchObject({ status: 0 });
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(image)));
    const schema = registry.getMessage(OrderPlacedSchema.typeName);
    if (!schema) throw new Error(`${OrderPlacedSchema.typeName} is missing from the compiled copy`);
    expect(schema.fields.map((field) => field.jsonName)).toContain("units");
    return schema;
  }

  /** Order's encoder for OrderPlaced (trial/order/events.ts), as it would read after the rename. */
  function encodeRenamed(schema: DescMessage, event: OrderPlaced): EventEnvelope {
    const { quantity, ...data } = event.data;
    return encodeEvent(event, schema, {
      ...data,
      units: quantity,
      placedAt: timestampFromDate(data.placedAt),
      returnDueAt: timestampFromDate(data.returnDueAt),
    });
  }

  it(`${warehouseModule.name}'s pact fails an ${orderModule.name} that publishes the renamed field, naming it`, async () => {
    const [pact] = pactsOf(orderModule.name).filter((pact) => pact.consumer === warehouseModule.name);
    if (!pact) throw new Error(`no pact between ${warehouseModule.name} and ${orderModule.name}`);
    const broken = encodeRenamed(renamedOrderPlaced(), orderPlaced());

    // What makes it dangerous: warehouse would read the event without error, as zero units.
    expect(JSON.parse(broken.payload)).toMatchObject({ units: 2 });
    expect(decodeEvent(OrderPlacedSchema, broken).quantity).toBe(0);

    // The control: the real order passes the same pact.
    await verifyPact(pact, { messageProviders: messageProvidersOf(orderEvents) }, { record: false });

    const verification = verifyPact(
      pact,
      {
        messageProviders: {
          ...messageProvidersOf(orderEvents),
          [eventDescription(OrderPlacedSchema.typeName)]: messageOf(broken),
        },
      },
      { record: false },
    );
    // The failure names the interaction, then the field at the root of the body.
    await expect(verification).rejects.toThrow(/OrderPlaced event\n\s+\$: .*\bquantity\b/);
  });
});
