// Server streams that stay open: each message goes to `onMessage`; a stream that ends or fails
// is opened again after a pause that grows to 5 s, and the state says so for the screen. A stream
// the service refuses to this caller (no permission, no valid token) is not asked for again.
import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "react";

export type StreamState = "connecting" | "live" | "reconnecting" | "refused";

/** Refusals that asking again would only repeat. */
const FOR_GOOD = new Set([Code.PermissionDenied, Code.Unauthenticated]);

/** The call options a stream is opened with: its cancellation, and the moment the server answers. */
export interface StreamCallOptions {
  readonly signal: AbortSignal;
  readonly onHeader: () => void;
}

export const RECONNECT_DELAYS_MS = [500, 1_000, 2_000, 5_000] as const;

export function reconnectDelay(failures: number): number {
  return RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)] ?? 5_000;
}

export function useStream<T>(
  open: ((options: StreamCallOptions) => AsyncIterable<T>) | undefined,
  onMessage: (message: T) => void,
  key: string,
): StreamState {
  const [state, setState] = useState<StreamState>("connecting");
  const handler = useRef(onMessage);
  handler.current = onMessage;
  // biome-ignore lint/correctness/useExhaustiveDependencies: the stream is reopened when its key changes
  useEffect(() => {
    if (!open) return;
    const abort = new AbortController();
    void (async () => {
      let failures = 0;
      while (!abort.signal.aborted) {
        try {
          const opened = () => {
            failures = 0;
            setState("live");
          };
          for await (const message of open({ signal: abort.signal, onHeader: opened })) {
            opened();
            handler.current(message);
          }
        } catch (error) {
          if (FOR_GOOD.has(ConnectError.from(error).code)) {
            setState("refused");
            return;
          }
          // else lost: reopened below
        }
        if (abort.signal.aborted) return;
        setState("reconnecting");
        await new Promise((done) => setTimeout(done, reconnectDelay(failures++)));
      }
    })();
    return () => abort.abort();
  }, [key]);
  return state;
}
