import { createServer, type Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import { Writable } from "node:stream";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  clientCredentialsTokens,
  createVerifier,
  DEV_AUDIENCE,
  DEV_ISSUER,
  loadDevKeys,
  remoteVerifier,
} from "@hexa/adapters/auth/tokens";
import { createInProcessBus } from "@hexa/adapters/inprocess/bus";
import { openServiceDatabase } from "@hexa/adapters/postgres/database";
import { ConfigurationError, readEnvironment } from "@hexa/adapters/runtime/config";
import { securityFromEnvironment } from "@hexa/adapters/runtime/security";
import { startServices } from "@hexa/adapters/runtime/start";
import { marketingModule } from "@hexa/adapters/trial/marketing/module";
import { orderModule } from "@hexa/adapters/trial/order/module";
import { warehouseModule } from "@hexa/adapters/trial/warehouse/module";
import { MarketingService } from "@hexa/proto/trial/marketing/v1/marketing_pb";
import { OrderService } from "@hexa/proto/trial/order/v1/order_pb";
import { WarehouseService } from "@hexa/proto/trial/warehouse/v1/warehouse_pb";
import {
  connectJsonClient,
  createTestDatabase,
  eventually,
  startModules,
  testKeyDir,
  testToken,
} from "@hexa/testing";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { pino } from "pino";
import { describe, expect, it } from "vitest";

const security = (overrides: Record<string, string>) =>
  securityFromEnvironment(readEnvironment({ ...process.env, ...overrides }), {
    allInOne: false,
    callsServices: true,
  });

function listen(server: Server | Http2Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`);
    }),
  );
}

describe("per-caller rate limit", () => {
  it("answers RESOURCE_EXHAUSTED past a caller's burst, and other callers still get through", async () => {
    const app = await startModules([warehouseModule], {
      security: await security({ RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: "3" }),
    });
    try {
      const as = (subject: string) =>
        connectJsonClient(WarehouseService, app.url, {
          token: () => testToken({ roles: ["warehouse"], subject }),
        });
      const codes: Array<Code | undefined> = [];
      for (let i = 0; i < 5; i++) {
        codes.push(
          await as("w1")
            .listStock({})
            .then(
              () => undefined,
              (error: { code: Code }) => error.code,
            ),
        );
      }
      expect(codes.slice(0, 3)).toEqual([undefined, undefined, undefined]);
      expect(codes.slice(3)).toEqual([Code.ResourceExhausted, Code.ResourceExhausted]);
      await expect(as("w2").listStock({})).resolves.toBeDefined();
    } finally {
      await app.stop();
    }
  });

  it("leaves callers with role service out: their calls are spawned by calls already admitted", async () => {
    const app = await startModules([orderModule], {
      security: await security({ RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: "3" }),
    });
    try {
      const marketing = connectJsonClient(OrderService, app.url, {
        token: () => testToken({ roles: ["service"], subject: "service:marketing" }),
      });
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          marketing.cancelOrdersForPlan({ planId: "01a00000-0000-7000-8000-000000000001" }).then(
            () => "answered",
            (error: { code: Code }) => Code[error.code],
          ),
        ),
      );
      expect(answers).not.toContain(Code[Code.ResourceExhausted]);
    } finally {
      await app.stop();
    }
  });
});

describe("CORS", () => {
  it("answers preflights for configured origins only, and none by default", async () => {
    const open = await startModules([warehouseModule], {
      security: await security({ CORS_ALLOWED_ORIGINS: "https://app.example.com, http://localhost:5173" }),
    });
    const closed = await startModules([warehouseModule]);
    try {
      const preflight = (url: string, origin: string) =>
        fetch(`${url}/trial.warehouse.v1.WarehouseService/ListStock`, {
          method: "OPTIONS",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,authorization,connect-protocol-version",
          },
        });
      const allowed = await preflight(open.url, "https://app.example.com");
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(allowed.headers.get("access-control-allow-headers")).toMatch(/authorization/i);
      expect(allowed.headers.get("access-control-allow-methods")).toMatch(/POST/);
      for (const [url, origin] of [
        [open.url, "https://evil.example.com"],
        [closed.url, "https://app.example.com"],
      ] as const) {
        const refused = await preflight(url, origin);
        expect(refused.status).toBe(403);
        expect(refused.headers.get("access-control-allow-origin")).toBeNull();
      }
      const call = await fetch(`${open.url}/trial.warehouse.v1.WarehouseService/ListStock`, {
        method: "POST",
        headers: {
          origin: "https://app.example.com",
          "content-type": "application/json",
          authorization: `Bearer ${await testToken()}`,
        },
        body: "{}",
      });
      expect(call.status).toBe(200);
      expect(call.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    } finally {
      await open.stop();
      await closed.stop();
    }
  });
});

describe("request size", () => {
  it("answers an oversized body with resource_exhausted and keeps serving", async () => {
    const app = await startModules([warehouseModule], {
      security: await security({ MAX_REQUEST_BYTES: "1024" }),
    });
    try {
      const response = await fetch(`${app.url}/trial.warehouse.v1.WarehouseService/Restock`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await testToken()}` },
        body: JSON.stringify({ productId: "x".repeat(4096), quantity: 1 }),
      });
      expect(response.status).toBe(429);
      expect(await response.json()).toMatchObject({ code: "resource_exhausted" });
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    } finally {
      await app.stop();
    }
  });
});

describe("service-to-service calls", () => {
  it("carry the caller's own service token and the rest of the caller's deadline", async () => {
    const seen: Array<{ authorization: string | null; timeoutMs: number | undefined }> = [];
    const order = createHttp2Server(
      connectNodeAdapter({
        routes: (router: ConnectRouter) =>
          router.service(OrderService, {
            cancelOrdersForPlan: (_request, context) => {
              seen.push({
                authorization: context.requestHeader.get("authorization"),
                timeoutMs: context.timeoutMs(),
              });
              return { cancelledOrderIds: [], returnRequestedOrderIds: [] };
            },
          }),
      }),
    );
    const orderUrl = await listen(order);
    const app = await startModules([marketingModule], { serviceUrls: { order: orderUrl } });
    try {
      const marketing = connectJsonClient(MarketingService, app.url, {
        token: () => testToken({ roles: ["marketer"], subject: "m1" }),
      });
      const { plan } = await marketing.startTrialPlan({ productId: "p", name: "n", trialDays: 7 });
      await marketing.endTrialPlan({ planId: plan?.planId ?? "" }, { timeoutMs: 1_500 });
      expect(seen.length).toBeGreaterThan(0);
      const [first] = seen;
      expect(first?.timeoutMs).toBeGreaterThan(0);
      expect(first?.timeoutMs).toBeLessThanOrEqual(1_500);
      const token = /^Bearer (.+)$/.exec(first?.authorization ?? "")?.[1] ?? "";
      const keys = await loadDevKeys(testKeyDir());
      const caller = await createVerifier(keys.publicKey, {
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
      }).verify(token);
      expect(caller).toMatchObject({ subject: "service:marketing", roles: ["service"] });
    } finally {
      await app.stop();
      order.close();
    }
  });

  it("are refused to a customer: CancelOrdersForPlan is for services", async () => {
    const app = await startModules([orderModule]);
    try {
      const customer = connectJsonClient(OrderService, app.url, {
        token: () => testToken({ roles: ["customer"], subject: "c1" }),
      });
      await expect(customer.cancelOrdersForPlan({ planId: "x" })).rejects.toMatchObject({
        code: Code.PermissionDenied,
      });
    } finally {
      await app.stop();
    }
  });

  it("get production tokens by client credentials, cached until shortly before they expire", async () => {
    const requests: Array<{ authorization: string | undefined; body: string }> = [];
    const endpoint = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        requests.push({ authorization: req.headers.authorization, body });
        if (req.headers.authorization !== `Basic ${Buffer.from("marketing:s3cret").toString("base64")}`) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ access_token: `tok-${requests.length}`, token_type: "Bearer", expires_in: 3600 }),
        );
      });
    });
    const url = await listen(endpoint);
    try {
      const tokens = clientCredentialsTokens({
        tokenUrl: `${url}/token`,
        clientId: "marketing",
        clientSecret: "s3cret",
        audience: "hexa",
      });
      expect(await Promise.all([tokens.token(), tokens.token()])).toEqual(["tok-1", "tok-1"]);
      expect(await tokens.token()).toBe("tok-1");
      expect(requests).toHaveLength(1);
      expect(new URLSearchParams(requests[0]?.body)).toEqual(
        new URLSearchParams({ grant_type: "client_credentials", audience: "hexa" }),
      );
      const wrong = clientCredentialsTokens({
        tokenUrl: `${url}/token`,
        clientId: "marketing",
        clientSecret: "no",
      });
      await expect(wrong.token()).rejects.toThrow(/HTTP 401/);
    } finally {
      endpoint.close();
    }
  });
});

describe("tokens of a real identity provider", () => {
  it("are verified against its JWKS, issuer and audience, with the role claim configured", async () => {
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" }] };
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(jwks));
    });
    const url = await listen(server);
    try {
      const verifier = remoteVerifier(`${url}/certs`, {
        issuer: "https://idp.example.com/realms/hexa",
        audience: "hexa-api",
        roleClaim: "realm_access.roles",
      });
      const sign = (claims: Record<string, unknown>, audience = "hexa-api") =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: "k1" })
          .setIssuer("https://idp.example.com/realms/hexa")
          .setAudience(audience)
          .setSubject("alice")
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(privateKey);
      await expect(
        verifier.verify(await sign({ realm_access: { roles: ["customer", "offline_access"] } })),
      ).resolves.toMatchObject({
        subject: "alice",
        roles: ["customer"],
      });
      await expect(verifier.verify(await sign({}, "another-api"))).rejects.toThrow();
      // A namespaced claim (Auth0's custom claims) is read by its whole name, dots and all.
      const namespaced = remoteVerifier(`${url}/certs`, {
        issuer: "https://idp.example.com/realms/hexa",
        audience: "hexa-api",
        roleClaim: "https://hexa.example.com/roles",
      });
      await expect(
        namespaced.verify(await sign({ "https://hexa.example.com/roles": ["courier"] })),
      ).resolves.toMatchObject({ roles: ["courier"] });
    } finally {
      server.close();
    }
  });
});

describe("security configuration", () => {
  it("names what is missing", async () => {
    await expect(
      securityFromEnvironment(readEnvironment({}), { allInOne: false, callsServices: false }),
    ).rejects.toThrow(/AUTH_JWKS_URL: required when a service runs on its own/);
    expect(() => readEnvironment({ AUTH_JWKS_URL: "https://idp.example.com/certs" })).toThrow(
      /AUTH_ISSUER: required with AUTH_JWKS_URL[\s\S]*AUTH_AUDIENCE: required with AUTH_JWKS_URL/,
    );
    await expect(
      securityFromEnvironment(
        readEnvironment({
          AUTH_JWKS_URL: "https://idp.example.com/certs",
          AUTH_ISSUER: "i",
          AUTH_AUDIENCE: "a",
        }),
        { allInOne: false, callsServices: true },
      ),
    ).rejects.toBeInstanceOf(ConfigurationError);
    expect(() => readEnvironment({ CORS_ALLOWED_ORIGINS: "*" })).toThrow(/CORS_ALLOWED_ORIGINS/);
    expect(() =>
      readEnvironment({ AUTH_CLIENT_TOKEN_URL: "https://idp/token", AUTH_CLIENT_SECRET: "hidden-value" }),
    ).toThrow(/AUTH_CLIENT_ID/);
  });
});

describe("logs", () => {
  it("never contain a token or an Authorization header value", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const database = await createTestDatabase();
    const logger = pino({ level: "trace" }, sink);
    const busStore = await openServiceDatabase({
      url: database.url,
      schema: "hexa_bus",
      entities: [],
      migrations: [],
      logger,
    });
    const bus = await createInProcessBus({ sql: busStore.execute, logger });
    const services = await startServices({
      modules: [marketingModule, orderModule],
      databaseUrl: database.url,
      bus,
      host: "127.0.0.1",
      port: 0,
      logger,
    });
    const tokens = [
      await testToken({ roles: ["marketer"], subject: "m1" }),
      await testToken({ roles: ["customer"], subject: "c1" }),
      await testToken({ roles: ["marketer"], ttlSeconds: -60 }),
      await testToken({ roles: ["marketer"], audience: "elsewhere" }),
    ];
    try {
      for (const token of tokens) {
        const marketing = connectJsonClient(MarketingService, services.url, { token });
        const { plan } = await marketing
          .startTrialPlan({ productId: "p", name: "n", trialDays: 7 })
          .catch(() => ({ plan: undefined }));
        if (plan) await marketing.endTrialPlan({ planId: plan.planId }).catch(() => undefined);
        await fetch(`${services.url}/trial.marketing.v1.MarketingService/GetTrialPlan`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: '{"planId": ',
        });
      }
      await eventually(async () => {
        if (!lines.some((line) => line.includes('"rpc"'))) throw new Error("no call logged yet");
      });
    } finally {
      await services.stop(1_000);
      await busStore.close();
      await database.drop();
    }
    const output = lines.join("");
    expect(output).toContain("/trial.marketing.v1.MarketingService/StartTrialPlan");
    expect(output).toContain("unauthenticated");
    for (const token of tokens) {
      expect(output).not.toContain(token);
      for (const part of token.split(".")) expect(output).not.toContain(part);
    }
    expect(output).not.toMatch(/Bearer\s+[\w-]+\./i);
    expect(output).not.toMatch(/"authorization"/i);
  });
});
