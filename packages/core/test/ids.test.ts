import { FixedClock, isUuid, UuidV7Generator } from "@hexa/core/shared";
import { describe, expect, it } from "vitest";

describe("UuidV7Generator", () => {
  it("puts the clock's milliseconds in the first 48 bits and marks version 7, variant 10", () => {
    const clock = new FixedClock(new Date("2026-01-02T03:04:05.678Z"));
    const id = new UuidV7Generator(clock, (bytes) => bytes.fill(0xff)).next();
    expect(isUuid(id)).toBe(true);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(clock.now().getTime());
    expect(id[14]).toBe("7");
    expect(["8", "9", "a", "b"]).toContain(id[19]);
  });

  it("keeps ids of one generator in creation order within one millisecond", () => {
    const ids = new UuidV7Generator(new FixedClock(new Date(0)));
    const generated = Array.from({ length: 5000 }, () => ids.next());
    expect([...generated].sort()).toEqual(generated);
    expect(new Set(generated).size).toBe(generated.length);
  });

  it("gives every id random bits of its own, across refills of its pool of random bytes", () => {
    const ids = new UuidV7Generator(new FixedClock(new Date(0)));
    // 62 random bits after the variant; 1,000 ids take 16 kB, four fills of the 4 kB pool.
    const tails = Array.from({ length: 1000 }, () => ids.next().slice(19));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
