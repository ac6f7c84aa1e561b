/**
 * What the pnpm patches in patches/ change (docs/decisions.md, "Library patches"): a Connect call
 * that ends without an error aborts its signals with one reason built once, not with an AbortError
 * built for the call; an HTTP/2 client call whose response ends builds no error to reject a race
 * already settled; an answered NATS request builds no error to cancel itself; NATS commands given in
 * one turn of the event loop share one socket write. Each test but the failed call's fails on the
 * unpatched library.
 */
import { createServer, request as httpRequest } from "node:http";
import { createServer as createHttp2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { ConnectError, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createConnectTransport,
  universalRequestFromNodeRequest,
} from "@connectrpc/connect-node";
import { MarketingService, TrialPlanStatus } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { describeWithNats, natsUrl } from "@hexa/testing";
import { RequestOne } from "@nats-io/nats-core/internal";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it, vi } from "vitest";

describe("Connect, patched: a call that ends", () => {
  it("are aborted with one AbortError shared by every call, on the server and on the client", async () => {
    const serverSignals: AbortSignal[] = [];
    const clientSignals: AbortSignal[] = [];
    const recordSignal: Interceptor = (next) => (request) => {
      clientSignals.push(request.signal);
      return next(request);
    };
    const transport = createRouterTransport(
      (router) =>
        router.service(MarketingService, {
          getTrialPlan: (request, context) => {
            serverSignals.push(context.signal);
            return { plan: { planId: request.planId, status: TrialPlanStatus.ACTIVE } };
          },
        }),
      { transport: { interceptors: [recordSignal] } },
    );
    const client = createClient(MarketingService, transport);
    await client.getTrialPlan({ planId: "a" });
    await client.getTrialPlan({ planId: "b" });

    for (const signals of [serverSignals, clientSignals]) expectOneSharedAbortError(signals);
  });

  it("keeps a failed call's own reason", async () => {
    let signal: AbortSignal | undefined;
    const transport = createRouterTransport((router) =>
      router.service(MarketingService, {
        getTrialPlan: (_request, context) => {
          signal = context.signal;
          throw new Error("refused");
        },
      }),
    );
    await expect(createClient(MarketingService, transport).getTrialPlan({ planId: "a" })).rejects.toThrow();
    expect(signal?.reason).toMatchObject({ message: "refused" });
  });

  it("builds no error when an HTTP/2 client call's response ends", async () => {
    const server = createHttp2Server(
      connectNodeAdapter({
        routes: (router) =>
          router.service(MarketingService, {
            getTrialPlan: (request) => ({ plan: { planId: request.planId } }),
          }),
      }),
    );
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    const { port } = server.address() as AddressInfo;
    const client = createClient(
      MarketingService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2" }),
    );
    await client.getTrialPlan({ planId: "warm" });
    // Every ConnectError sets its prototype when it is built.
    const setPrototypeOf = vi.spyOn(Object, "setPrototypeOf");
    try {
      const { plan } = await client.getTrialPlan({ planId: "a" });
      await client.getTrialPlan({ planId: "b" });
      expect(plan?.planId).toBe("a");
      const built = setPrototypeOf.mock.calls.filter(([, prototype]) => prototype === ConnectError.prototype);
      expect(built).toHaveLength(0);
    } finally {
      setPrototypeOf.mockRestore();
      await new Promise((closed) => server.close(closed));
    }
  });

  it("aborts a closed Node.js request's signal with one AbortError shared by every request", async () => {
    const signals: AbortSignal[] = [];
    const server = createServer((request, response) => {
      signals.push(universalRequestFromNodeRequest(request, response, undefined, undefined).signal);
      response.end("ok");
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    try {
      const { port } = server.address() as AddressInfo;
      const get = () =>
        new Promise<void>((done, fail) =>
          httpRequest({ host: "127.0.0.1", port, agent: false }, (response) => {
            response.resume().on("end", done);
          })
            .on("error", fail)
            .end(),
        );
      await get();
      await get();
      await vi.waitFor(() => expect(signals.every((signal) => signal.aborted)).toBe(true));
      expectOneSharedAbortError(signals);
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});

/** Two signals, each aborted with the same AbortError. */
function expectOneSharedAbortError(signals: readonly AbortSignal[]): void {
  expect(signals).toHaveLength(2);
  const [first, second] = signals as [AbortSignal, AbortSignal];
  expect(first.aborted && second.aborted).toBe(true);
  expect(first.reason).toBeInstanceOf(DOMException);
  expect(first.reason).toMatchObject({ name: "AbortError" });
  expect(second.reason).toBe(first.reason);
}

describeWithNats("nats.js, patched: an answered request", () => {
  it("is settled without being cancelled, and a request nobody answers still fails", async () => {
    const connection = await connect({ servers: natsUrl() });
    const cancel = vi.spyOn(RequestOne.prototype, "cancel");
    try {
      const subject = `patched-libraries.${process.pid}.${Date.now()}`;
      connection.subscribe(subject, {
        callback: (_error, message) => {
          message.respond("pong");
        },
      });
      await connection.flush();
      const answer = await connection.request(subject, "ping", { timeout: 2_000 });
      expect(answer.string()).toBe("pong");
      expect(cancel).not.toHaveBeenCalled();
      await expect(connection.request(`${subject}.nobody`, "ping", { timeout: 2_000 })).rejects.toThrow();
    } finally {
      cancel.mockRestore();
      await connection.close();
    }
  });
});

describeWithNats("nats.js, patched: commands of one event-loop turn", () => {
  it("go out in one socket write, and every message arrives", async () => {
    const connection = await connect({ servers: natsUrl() });
    const subject = `patched-libraries.turn.${process.pid}.${Date.now()}`;
    const received: string[] = [];
    const subscription = connection.subscribe(subject, {
      callback: (_error, message) => {
        received.push(message.string());
      },
    });
    await connection.flush();
    const { transport } = (
      connection as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } }
    ).protocol;
    const send = vi.spyOn(transport, "send");
    try {
      // Timers due together run in one turn of the loop, each a task of its own, as the callbacks of
      // the database answers that end a service's units of work do.
      await new Promise<void>((published) => {
        for (let i = 0; i < 10; i++) {
          setTimeout(() => {
            connection.publish(subject, `m${i}`);
            if (i === 9) published();
          }, 1);
        }
      });
      await new Promise((turnEnded) => setImmediate(turnEnded));
      expect(send).toHaveBeenCalledTimes(1);
      await connection.flush();
      await vi.waitFor(() => expect(received).toHaveLength(10));
      expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    } finally {
      send.mockRestore();
      subscription.unsubscribe();
      await connection.close();
    }
  });
});
