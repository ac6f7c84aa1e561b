import { ConfigurationError, readEnvironment, readServiceUrls } from "@hexa/adapters/runtime/config";
import { startApp } from "@hexa/testing";
import { describe, expect, it } from "vitest";

describe("configuration from the environment", () => {
  it("has defaults that run the all-in-one", () => {
    expect(readEnvironment({})).toMatchObject({
      HOST: "127.0.0.1",
      PORT: 8080,
      LOG_LEVEL: "info",
      MAX_IN_FLIGHT: 256,
      DATA_DIR: ".data",
      BOOKING_HOLD_LEASE_S: 60,
    });
  });

  it("names every bad variable, and hides the values of URLs", () => {
    const error = (() => {
      try {
        readEnvironment({
          PORT: "eighty",
          LOG_LEVEL: "loud",
          DATABASE_URL: "mysql://secret@db",
          MAX_IN_FLIGHT: "0",
          BOOKING_HOLD_LEASE_S: "0",
        });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    for (const name of ["PORT", "LOG_LEVEL", "DATABASE_URL", "MAX_IN_FLIGHT", "BOOKING_HOLD_LEASE_S"])
      expect(message).toContain(`${name}:`);
    expect(message).toContain('"eighty"');
    expect(message).not.toContain("secret");
  });

  it("reads called services' URLs from <NAME>_URL and names a malformed one", () => {
    expect(readServiceUrls(["order"], { ORDER_URL: "http://order:8080/" })).toEqual({
      order: "http://order:8080",
    });
    expect(readServiceUrls(["order"], {})).toEqual({});
    expect(() => readServiceUrls(["order"], { ORDER_URL: "order:8080" })).toThrow(
      /ORDER_URL: must be an http/,
    );
  });

  it("stops a service at start with exit code 2 and a message naming the variable", async () => {
    const failure = await startApp("marketing", { PORT: "not-a-port" }, 10_000).then(
      () => "started",
      (error: unknown) => String(error),
    );
    expect(failure).toContain("exited with 2");
    expect(failure).toContain("PORT: ");
  });

  it("requires DATABASE_URL, NATS_URL and the called services' URLs for a service on its own", async () => {
    const failure = await startApp("marketing", { PORT: "18999" }, 10_000).then(
      () => "started",
      (error: unknown) => String(error),
    );
    expect(failure).toContain("exited with 2");
    expect(failure).toContain("DATABASE_URL: required");
    expect(failure).toContain("NATS_URL: required");
  });
});
