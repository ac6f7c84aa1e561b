// The building blocks every screen shares: labelled fields that show their own refusal, the
// form-level refusal, the live-stream badge, tables and timestamps.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type ReactNode, useId } from "react";
import type { Refusal } from "./errors.ts";
import type { StreamState } from "./live.ts";

export function Field(props: {
  label: string;
  name: string;
  refusal?: Refusal | undefined;
  type?: "text" | "number" | "date";
  defaultValue?: string | number;
  required?: boolean;
  /** Called with the input's value as it changes (for a value read outside a form). */
  onChange?: (value: string) => void;
  children?: ReactNode;
}) {
  const id = useId();
  const problem = props.refusal?.fields[props.name];
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children ? (
        <select
          id={id}
          name={props.name}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${id}-problem` : undefined}
          defaultValue={props.defaultValue}
        >
          {props.children}
        </select>
      ) : (
        <input
          id={id}
          name={props.name}
          type={props.type ?? "text"}
          defaultValue={props.defaultValue}
          required={props.required}
          onChange={props.onChange && ((event) => props.onChange?.(event.currentTarget.value))}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? `${id}-problem` : undefined}
        />
      )}
      {problem && (
        <p className="problem" id={`${id}-problem`} role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

/** The refusal that belongs to no single field (a rule, permission, an unreachable service). */
export function RefusalMessage({ refusal }: { refusal: Refusal | undefined }) {
  if (!refusal) return null;
  return (
    <p className="refusal" role="alert">
      {refusal.message}
    </p>
  );
}

const STREAM_LABELS: Record<StreamState, string> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "connection lost, reconnecting…",
};

export function StreamBadge({ state }: { state: StreamState }) {
  return (
    <output className={`stream stream-${state}`} aria-live="polite">
      {STREAM_LABELS[state]}
    </output>
  );
}

export function Section(props: { title: string; children: ReactNode; aside?: ReactNode }) {
  const id = useId();
  return (
    <section aria-labelledby={id}>
      <div className="section-head">
        <h2 id={id}>{props.title}</h2>
        {props.aside}
      </div>
      {props.children}
    </section>
  );
}

export function Table(props: {
  caption: string;
  head: readonly string[];
  rows: readonly ReactNode[][];
  empty?: string;
}) {
  if (props.rows.length === 0) return <p className="empty">{props.empty ?? "Nothing yet."}</p>;
  return (
    // Scrolls sideways on a narrow screen: focusable, so a keyboard can scroll it too.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <section className="table-scroll" aria-label={props.caption} tabIndex={0}>
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.head.map((name) => (
              <th key={name} scope="col">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((cells, row) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: rows are rendered fresh from each answer
            <tr key={row}>
              {cells.map((cell, column) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: a row's cells never move
                <td key={column}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function When({ at }: { at: Timestamp | undefined }) {
  if (!at) return <>—</>;
  const date = timestampDate(at);
  return <time dateTime={date.toISOString()}>{date.toLocaleString()}</time>;
}

/** An enum value's name in lower case: OrderStatus.RETURN_REQUESTED → "return requested". */
export function enumLabel(names: Record<number, string>, value: number): string {
  return (names[value] ?? String(value)).replace(/_/g, " ").toLowerCase();
}

/** The form's fields as strings, by name. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form)].map(([name, value]) => [name, String(value)]));
}

/** An id short enough for a table: its last 8 characters (ids are UUIDv7, whose first ones are the time). */
export const shortId = (id: string) => id.slice(-8);
