import { InvalidArgument } from "../../shared/index.ts";

/**
 * Calendar days as the vaccination suite writes them: "YYYY-MM-DD", a day with no time zone (an
 * appointment's day at the hospital). Arithmetic runs on UTC midnights, so no clock or zone shifts it.
 */

const DAY_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;

/** Longest distance, in days, between the first and the last day of a daily listing. */
export const MAX_DAYS_APART = 366;

/** The day's number counted from 1970-01-01, or undefined when `text` is not a real "YYYY-MM-DD" day. */
export function dayNumber(text: string): number | undefined {
  const match = DAY_PATTERN.exec(text);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const midnight = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC rolls 02-30 over to March and maps years below 100 to the 1900s: a round trip catches both.
  if (midnight.getUTCFullYear() !== year || midnight.getUTCMonth() !== month - 1) return undefined;
  if (midnight.getUTCDate() !== day) return undefined;
  return midnight.getTime() / MS_PER_DAY;
}

/** The "YYYY-MM-DD" text of a day number. */
export function dayText(number: number): string {
  return new Date(number * MS_PER_DAY).toISOString().slice(0, 10);
}

/** A real "YYYY-MM-DD" day, else InvalidArgument naming the field. */
export function requireDay(field: string, text: string): string {
  if (text === "") throw new InvalidArgument(field, "is required");
  if (dayNumber(text) === undefined) throw new InvalidArgument(field, 'must be a calendar day "YYYY-MM-DD"');
  return text;
}

/**
 * Every day from `from` to `to`, both included, in order. Each end is checked as a day first;
 * then `to` may be neither before `from` nor more than {@link MAX_DAYS_APART} days after it.
 */
export function daysFromTo(
  from: { readonly field: string; readonly text: string },
  to: { readonly field: string; readonly text: string },
): string[] {
  const first = dayNumber(requireDay(from.field, from.text)) ?? 0;
  const last = dayNumber(requireDay(to.field, to.text)) ?? 0;
  if (last < first) throw new InvalidArgument(to.field, `must not be before ${from.field}`);
  if (last - first > MAX_DAYS_APART) {
    throw new InvalidArgument(to.field, `must be at most ${MAX_DAYS_APART} days after ${from.field}`);
  }
  return Array.from({ length: last - first + 1 }, (_, offset) => dayText(first + offset));
}
