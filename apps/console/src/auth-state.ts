// The signed-in session, kept where the transport's interceptor reads it for every call.
import { type Session, storedSession, storeSession } from "./session.ts";

let session: Session | undefined = storedSession();

export function currentSession(): Session | undefined {
  if (session && session.expiresAt * 1000 <= Date.now()) setSession(undefined);
  return session;
}

export function currentToken(): string | undefined {
  return currentSession()?.token;
}

export function setSession(next: Session | undefined): void {
  session = next;
  storeSession(next);
}
