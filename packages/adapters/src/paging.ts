import { InvalidArgument, isUuid } from "@hexa/core/shared";

/** A list request's paging, checked: how many rows, and the position after which to continue. */
export interface Page<Cursor> {
  readonly limit: number;
  /** Undefined for the first page. */
  readonly after: Cursor | undefined;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/**
 * Reads `page_size` and `page_token` of a list request. Tokens are opaque to callers: the
 * base64url JSON of the last row's sort key (keyset paging, stable under inserts).
 * `isCursor` checks a decoded token's shape before it reaches a query. A bad size or token is
 * InvalidArgument naming `pageSize` or `pageToken`.
 */
export function readPage<Cursor>(
  request: { pageSize: number; pageToken: string },
  isCursor: (value: unknown) => value is Cursor,
): Page<Cursor> {
  const { pageSize, pageToken } = request;
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
    throw new InvalidArgument(
      "pageSize",
      `must be a whole number from 0 to ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`,
    );
  }
  const limit = pageSize === 0 ? DEFAULT_PAGE_SIZE : pageSize;
  if (pageToken === "") return { limit, after: undefined };
  let after: unknown;
  try {
    after = JSON.parse(Buffer.from(pageToken, "base64url").toString("utf8"));
  } catch {
    after = undefined;
  }
  if (!isCursor(after)) throw new InvalidArgument("pageToken", "is not a token from a previous response");
  return { limit, after };
}

/**
 * The token for the next page: made from the last row when the page is full (more may follow),
 * empty when the page was the last.
 */
export function nextPageToken<Row, Cursor>(
  rows: readonly Row[],
  limit: number,
  cursorOf: (row: Row) => Cursor,
): string {
  const last = rows.at(-1);
  if (rows.length < limit || last === undefined) return "";
  return Buffer.from(JSON.stringify(cursorOf(last)), "utf8").toString("base64url");
}

/** The position in a list ordered newest first: the last row's time (ISO 8601) and id (a UUID, the tie-break). */
export type NewestFirstCursor = [time: string, id: string];

export function isNewestFirstCursor(value: unknown): value is NewestFirstCursor {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === "string" &&
    !Number.isNaN(Date.parse(value[0])) &&
    typeof value[1] === "string" &&
    isUuid(value[1])
  );
}

/** The filter for the rows after `cursor` in a list ordered by `timeField`, then `idField`, both descending. */
export function olderThan(cursor: NewestFirstCursor, timeField: string, idField: string): object {
  const time = new Date(cursor[0]);
  return { $or: [{ [timeField]: { $lt: time } }, { [timeField]: time, [idField]: { $lt: cursor[1] } }] };
}
