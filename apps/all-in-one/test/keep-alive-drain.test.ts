// SIGTERM under a keep-alive load, as in a cluster: callers reach two replicas of the order service
// through a Service, which (like kube-proxy) picks a ready endpoint for each new TCP connection and
// keeps a connection on the replica it was opened to. Callers reuse their connections (HTTP/1.1
// keep-alive, one HTTP/2 session for gRPC). One replica gets SIGTERM mid-load. Proven: every call
// that reached a socket got an answer, the drained connections were moved by the server
// (`Connection: close`, GOAWAY), and the stopped replica exited cleanly.
import http from "node:http";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import {
  adminToken,
  createTestDatabase,
  describeWithNats,
  freePort,
  GrpcJsClient,
  natsUrl,
  type RunningApp,
  startApp,
  type TestDatabase,
  uniqueNamespace,
} from "@hexa/testing";
import { afterAll, beforeAll, expect, it } from "vitest";

const DRAIN_MS = 1_500;
const LOOPS = 16;

/** A Service: each new connection goes to a ready endpoint, and stays on it. */
class Service {
  readonly #server: net.Server;
  readonly #endpoints = new Map<string, boolean>();
  readonly #timer: NodeJS.Timeout;
  #next = 0;
  port = 0;

  constructor(urls: readonly string[]) {
    for (const url of urls) this.#endpoints.set(url, true);
    this.#server = net.createServer((client) => {
      const ready = [...this.#endpoints].filter(([, isReady]) => isReady).map(([url]) => new URL(url));
      const target = ready[this.#next++ % Math.max(ready.length, 1)];
      if (!target) return client.destroy();
      const upstream = net.connect({ host: target.hostname, port: Number(target.port) });
      client.pipe(upstream).pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", end).on("close", end);
      upstream.on("error", end).on("close", end);
    });
    // Endpoints follow readiness, as the endpoints controller does after a probe.
    this.#timer = setInterval(() => {
      for (const url of this.#endpoints.keys()) {
        fetch(`${url}/readyz`).then(
          (response) => this.#endpoints.set(url, response.status === 200),
          () => this.#endpoints.set(url, false),
        );
      }
    }, 100);
  }

  async listen(): Promise<string> {
    await new Promise<void>((done) => this.#server.listen(0, "127.0.0.1", done));
    this.port = (this.#server.address() as net.AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#server.close();
  }
}

describeWithNats("SIGTERM under a keep-alive load behind a Service", () => {
  let database: TestDatabase;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await database?.drop();
  });

  it("answers every call that reached a socket while one replica drains and stops", async () => {
    const env = {
      DATABASE_URL: database.url,
      NATS_URL: natsUrl(),
      BUS_NAMESPACE: uniqueNamespace(),
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
    };
    apps.push(await startApp("order", { ...env, PORT: String(await freePort()) }));
    apps.push(await startApp("order", { ...env, PORT: String(await freePort()) }));
    const [draining, staying] = apps as [RunningApp, RunningApp];
    const service = new Service([draining.url, staying.url]);
    const url = await service.listen();
    const token = await adminToken();
    const agent = new http.Agent({ keepAlive: true, maxSockets: LOOPS });
    const grpcClient = new GrpcJsClient(url);

    const unanswered: string[] = [];
    let answered = 0;
    let closeAnswers = 0;
    let stop = false;
    // A GetOrder of an order that does not exist: answered not_found, a full round trip.
    const http1Loop = async () => {
      while (!stop) {
        try {
          const response = await getOrder(`${url}/trial.order.v1.OrderService/GetOrder`, agent, token);
          if (response.status !== 404) unanswered.push(`HTTP ${response.status}`);
          if (response.connection === "close") closeAnswers++;
          answered++;
        } catch (error) {
          unanswered.push(`HTTP/1.1: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    };
    const grpcLoop = async () => {
      while (!stop) {
        const result = await grpcClient.call(OrderService.method.getOrder, {
          orderId: "01890000-0000-7000-8000-000000000000",
        });
        if (!result.ok && result.code === grpc.status.NOT_FOUND) answered++;
        else unanswered.push(`gRPC: ${result.ok ? "ok" : `${grpc.status[result.code]} ${result.details}`}`);
      }
    };
    const load = Promise.all([
      ...Array.from({ length: LOOPS }, http1Loop),
      ...Array.from({ length: 4 }, grpcLoop),
    ]);

    await new Promise((resume) => setTimeout(resume, 1_000));
    const answeredBefore = answered;
    expect(await draining.stop()).toBe(0);
    await new Promise((resume) => setTimeout(resume, 500));
    stop = true;
    await load;
    service.close();
    agent.destroy();
    grpcClient.close();
    console.log(
      `[keep-alive drain] ${answered} calls answered (${answered - answeredBefore} after SIGTERM), ${closeAnswers} with Connection: close, ${unanswered.length} without an answer`,
    );
    expect(unanswered).toEqual([]);
    expect(closeAnswers).toBeGreaterThan(0);
    expect(answered - answeredBefore).toBeGreaterThan(100);
  }, 60_000);
});

/** One Connect JSON call over the agent's keep-alive connections: the status and `Connection` header. */
function getOrder(url: string, agent: http.Agent, token: string) {
  return new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ orderId: "01890000-0000-7000-8000-000000000000" }));
  });
}
