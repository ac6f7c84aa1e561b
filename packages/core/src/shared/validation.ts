import { InvalidArgument } from "./errors.ts";
import { isUuid } from "./ids.ts";

/** Trimmed text of 1..max characters, else InvalidArgument naming the field. */
export function requireText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw new InvalidArgument(field, "is required");
  if (text.length > max) throw new InvalidArgument(field, `must be at most ${max} characters`);
  return text;
}

/** A whole number in [min, max], else InvalidArgument naming the field. */
export function requireIntegerInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgument(field, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** A UUID, else InvalidArgument naming the field. */
export function requireUuid(field: string, value: string): string {
  if (value.length === 0) throw new InvalidArgument(field, "is required");
  if (!isUuid(value)) throw new InvalidArgument(field, "must be a UUID");
  return value;
}
