// The Helm chart, checked offline: helm lint, helm template with the default and the production
// values, every rendered object validated against its Kubernetes schema, and what each enabled
// service must have to run safely (probes, resources, rollout, security, autoscaling, disruption
// budget, routes, network policies, migrations).
import { execFile } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { ServiceMetrics } from "@hexa/adapters/telemetry/metrics";
import { createTestDatabase, freePort, startApp } from "@hexa/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDir, helm, helmBinary } from "../src/helm.ts";
import {
  byKind,
  type Manifest,
  type RenderOptions,
  render,
  renderError,
  validateAll,
} from "../src/manifests.ts";

const production = join(chartDir, "values-production.yaml");
const trial = ["dashboard", "delivery", "marketing", "order", "warehouse"];
const vaccination = ["inventory", "notification", "reservation", "vaccination", "vaccination-dashboard"];
const both = [...trial, ...vaccination].sort();

/** The services as values.yaml declares them: the source of truth for routes and calls. */
const declared = (
  parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as {
    services: Record<string, { connectServices: string[]; calls?: string[] }>;
  }
).services;

/** The series names a service's registry serves (a histogram's with their suffixes). */
function servedMetricNames(): Set<string> {
  const metrics = new ServiceMetrics().registry.getMetricsAsArray();
  return new Set(
    metrics.flatMap((metric) =>
      String(metric.type) === "histogram"
        ? ["_bucket", "_sum", "_count"].map((suffix) => `${metric.name}${suffix}`)
        : [metric.name],
    ),
  );
}

const scratch = mkdtempSync(join(tmpdir(), "hexa-chart-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A values file in a scratch folder, for the cases a --set cannot express. */
function valuesFile(name: string, text: string): string {
  const file = join(scratch, name);
  writeFileSync(file, text);
  return file;
}

beforeAll(() => {
  helmBinary(); // extracted once, before the tests run helm in parallel
});

describe("helm lint", () => {
  it.each([
    ["the default values", []],
    ["the production values", ["--values", production]],
  ])("passes with %s", async (_, args) => {
    const result = await helm(["lint", chartDir, "--strict", ...args]);
    expect(result.stderr + result.stdout).toContain("0 chart(s) failed");
    expect(result.code).toBe(0);
  });
});

interface Scenario {
  readonly name: string;
  readonly options: RenderOptions;
  readonly release: string;
  readonly services: readonly string[];
  readonly entryPoint: "ingress" | "httproute";
  /** The Secret of client credentials the services that call others read (auth.clientSecretName). */
  readonly clientSecretName?: string;
}

const scenarios: Scenario[] = [
  { name: "default values", options: {}, release: "hexa", services: both, entryPoint: "ingress" },
  {
    name: "production values",
    options: { valuesFiles: [production], release: "shop" },
    release: "shop",
    services: both,
    entryPoint: "ingress",
    clientSecretName: "hexa-auth-client",
  },
  {
    name: "a Gateway API entry point and the product-trial suite alone",
    options: { set: ["entryPoint.kind=httproute", "suites.vaccination.enabled=false"] },
    release: "hexa",
    services: trial,
    entryPoint: "httproute",
  },
];

describe.each(scenarios)("helm template with $name", (scenario) => {
  let manifests: Manifest[];
  beforeAll(async () => {
    manifests = await render(scenario.options);
  });

  const resource = (service: string) => `${scenario.release}-${service}`;

  it("renders only objects that validate against their Kubernetes schema", () => {
    expect(manifests.length).toBeGreaterThan(0);
    expect(validateAll(manifests)).toEqual([]);
  });

  it("renders a Deployment, Service, ConfigMap, autoscaler and disruption budget for each enabled service", () => {
    for (const kind of ["ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget"]) {
      expect([...byKind(manifests, kind).keys()].sort(), kind).toEqual(
        scenario.services.map(resource).sort(),
      );
    }
    // The web console has a Deployment and a Service of its own, and nothing else to configure.
    for (const kind of ["Deployment", "Service"]) {
      expect([...byKind(manifests, kind).keys()].sort(), kind).toEqual(
        [...scenario.services, "console"].map(resource).sort(),
      );
    }
  });

  it("serves the web console from the same image, locked down like the services, without credentials", () => {
    const deployment = byKind(manifests, "Deployment").get(resource("console"));
    const pod = deployment?.spec.template.spec;
    const [container] = pod.containers;
    expect(container.args).toEqual(["console"]);
    expect(container.image).toBe(
      byKind(manifests, "Deployment").get(resource("order"))?.spec.template.spec.containers[0].image,
    );
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(container.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(deployment?.spec.strategy.rollingUpdate).toEqual({ maxUnavailable: 0, maxSurge: 1 });
    const names = container.env.map((variable: { name: string }) => variable.name);
    expect(names).toContain("CONSOLE_OIDC_CLIENT_ID");
    expect(names).not.toContain("DATABASE_URL");
    expect(container.envFrom).toBeUndefined();
    const policy = byKind(manifests, "NetworkPolicy").get(resource("console"));
    expect(policy?.spec.ingress[0].from[0].namespaceSelector).toBeDefined();
  });

  it("gives every Deployment probes, resources, a zero-downtime rollout and a locked-down pod", () => {
    const configMaps = byKind(manifests, "ConfigMap");
    for (const service of scenario.services) {
      const deployment = byKind(manifests, "Deployment").get(resource(service));
      const pod = deployment?.spec.template.spec;
      const [container, ...others] = pod.containers;
      expect(others, service).toEqual([]);

      expect(container.args, service).toEqual([service]);
      expect(container.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
      expect(container.startupProbe.httpGet, service).toEqual({ path: "/healthz", port: "http" });
      expect(container.livenessProbe.httpGet, service).toEqual({ path: "/healthz", port: "http" });
      expect(container.readinessProbe.httpGet, service).toEqual({ path: "/readyz", port: "http" });
      for (const bound of ["requests", "limits"]) {
        expect(container.resources[bound]?.cpu, `${service} ${bound}.cpu`).toBeTruthy();
        expect(container.resources[bound]?.memory, `${service} ${bound}.memory`).toBeTruthy();
      }

      expect(deployment?.spec.strategy).toEqual({
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
      expect(pod.topologySpreadConstraints?.length, service).toBeGreaterThan(0);

      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      const tmp = container.volumeMounts.find((mount: { mountPath: string }) => mount.mountPath === "/tmp");
      expect(
        pod.volumes.find((volume: { name: string }) => volume.name === tmp?.name)?.emptyDir,
      ).toBeDefined();

      // SIGKILL comes after the drain and the grace period for calls, with room to stop consumers.
      const env = configMaps.get(resource(service))?.data;
      const shutdownMs = Number(env.SHUTDOWN_DRAIN_MS) + Number(env.SHUTDOWN_GRACE_MS);
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownMs);

      // Liveness restarts a pod only once its database has been unreachable past the bound;
      // readiness (can take calls) is the database alone, the bus is not needed.
      expect(container.livenessProbe.httpGet.path).toBe("/healthz");
      expect(container.readinessProbe.httpGet.path).toBe("/readyz");
      expect(env.DATABASE_LIVENESS_MS).toBe("60000");
      // The launch-day admission and the booking hold's lease, as the services default them.
      expect(env).toMatchObject({
        MAX_QUEUED_CALLS: "1024",
        MAX_QUEUE_WAIT_MS: "60000",
        MAX_INTERNAL_IN_FLIGHT: "1024",
        BOOKING_HOLD_LEASE_S: "60",
      });

      const callsOthers = (declared[service]?.calls ?? []).length > 0;
      expect(container.envFrom).toEqual([
        { configMapRef: { name: resource(service) } },
        ...(callsOthers && scenario.clientSecretName
          ? [{ secretRef: { name: scenario.clientSecretName } }]
          : []),
      ]);
      expect(container.env).toEqual([
        {
          name: "DATABASE_URL",
          valueFrom: { secretKeyRef: expect.objectContaining({ name: expect.any(String) }) },
        },
      ]);
      expect(env).toMatchObject({
        HOST: "0.0.0.0",
        PORT: "8080",
        NATS_URL: expect.stringMatching(/^nats:\/\//),
      });
    }
  });

  it("scales each service on CPU and limits its voluntary disruptions", () => {
    for (const service of scenario.services) {
      const hpa = byKind(manifests, "HorizontalPodAutoscaler").get(resource(service));
      expect(hpa?.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: resource(service),
      });
      expect(hpa?.spec.minReplicas).toBeLessThanOrEqual(hpa?.spec.maxReplicas);
      expect(hpa?.spec.metrics[0].resource.name).toBe("cpu");
      const pdb = byKind(manifests, "PodDisruptionBudget").get(resource(service));
      expect(pdb?.spec.selector.matchLabels).toEqual(
        byKind(manifests, "Deployment").get(resource(service))?.spec.selector.matchLabels,
      );
    }
  });

  it("serves each service on port 8080, named http, marked as HTTP/2-capable", () => {
    for (const service of scenario.services) {
      expect(byKind(manifests, "Service").get(resource(service))?.spec.ports).toEqual([
        { name: "http", port: 8080, targetPort: "http", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
      ]);
    }
  });

  it("routes every Connect service of every enabled service by its path prefix, the rest to the console", () => {
    const routes = new Map<string, string>();
    if (scenario.entryPoint === "ingress") {
      const [ingress, ...more] = byKind(manifests, "Ingress").values();
      expect(more).toEqual([]);
      for (const rule of ingress?.spec.rules ?? []) {
        for (const path of rule.http.paths) {
          expect(path.pathType).toBe("Prefix");
          routes.set(path.path, path.backend.service.name);
        }
      }
      expect(byKind(manifests, "HTTPRoute").size).toBe(0);
    } else {
      const [route, ...more] = byKind(manifests, "HTTPRoute").values();
      expect(more).toEqual([]);
      for (const rule of route?.spec.rules ?? []) {
        for (const match of rule.matches) {
          expect(match.path.type).toBe("PathPrefix");
          routes.set(match.path.value, rule.backendRefs[0].name);
        }
      }
      expect(byKind(manifests, "Ingress").size).toBe(0);
    }
    const expected = new Map([
      ...scenario.services.flatMap((service) =>
        (declared[service]?.connectServices ?? []).map(
          (connect) => [`/${connect}`, resource(service)] as const,
        ),
      ),
      ["/", resource("console")] as const,
    ]);
    expect(routes).toEqual(expected);
  });

  it("denies ingress by default and lets in only the entry point and the callers", () => {
    const policies = byKind(manifests, "NetworkPolicy");
    expect(policies.get(`${scenario.release}-default-deny`)?.spec.policyTypes).toContain("Ingress");
    for (const service of scenario.services) {
      const policy = policies.get(resource(service));
      const peers = (policy?.spec.ingress ?? []).flatMap((rule: { from: unknown[] }) => rule.from);
      const callers = scenario.services.filter((caller) => declared[caller]?.calls?.includes(service));
      for (const caller of callers) {
        expect(peers, `${caller} -> ${service}`).toContainEqual({
          podSelector: { matchLabels: expect.objectContaining({ "app.kubernetes.io/component": caller }) },
        });
      }
      expect(peers.some((peer: { namespaceSelector?: unknown }) => peer.namespaceSelector)).toBe(true);
    }
  });

  it("runs the enabled services' migrations in a pre-install and pre-upgrade hook Job", () => {
    const job = byKind(manifests, "Job").get(`${scenario.release}-migrations`);
    expect(job?.metadata.annotations?.["helm.sh/hook"]).toBe("pre-install,pre-upgrade");
    expect(job?.spec.template.spec.containers[0].args).toEqual(["migrate", ...[...scenario.services].sort()]);
    expect(job?.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });
});

describe("the values schema", () => {
  it.each([
    ["a misspelled top-level key", "suite:\n  trial:\n    enabled: true\n", "additional properties 'suite'"],
    ["a misspelled service key", "services:\n  order:\n    replica: 3\n", "additional properties 'replica'"],
    ["a misspelled default", "serviceDefaults:\n  autoscaling:\n    maxReplica: 3\n", "'maxReplica'"],
    ["a misspelled nested key", "entryPoint:\n  ingress:\n    clasName: nginx\n", "'clasName'"],
    ["a wrong type", "config:\n  maxInFlight: many\n", "/config/maxInFlight"],
    ["an unknown entry point kind", "entryPoint:\n  kind: loadbalancer\n", "/entryPoint/kind"],
    [
      "an invalid service name",
      "services:\n  Order_Service:\n    suite: trial\n    connectServices: []\n",
      "Order_Service",
    ],
  ])("rejects %s", async (name, text, message) => {
    const file = valuesFile(`${name.replaceAll(" ", "-")}.yaml`, text);
    const error = await renderError({ valuesFiles: [file] });
    expect(error).toContain("values don't meet the specifications of the schema");
    expect(error).toContain(message);
    const lint = await helm(["lint", chartDir, "--values", file]);
    expect(lint.code).not.toBe(0);
  });
});

describe("switches", () => {
  const deployments = async (options: RenderOptions) =>
    [...byKind(await render(options), "Deployment").keys()].sort();

  it("removes a suite's services, routes and policies when the suite is off", async () => {
    const manifests = await render({
      set: ["suites.trial.enabled=false", "suites.vaccination.enabled=true"],
    });
    const names = manifests.map((m) => m.metadata.name);
    for (const service of trial) expect(names).not.toContain(`hexa-${service}`);
    expect([...byKind(manifests, "Deployment").keys()].sort()).toEqual(
      [...vaccination, "console"].map((s) => `hexa-${s}`).sort(),
    );
    expect(JSON.stringify(byKind(manifests, "Ingress").get("hexa"))).not.toContain("trial.");
  });

  it("renders no service when every suite is off", async () => {
    const manifests = await render({
      set: ["suites.trial.enabled=false", "suites.vaccination.enabled=false"],
    });
    expect(byKind(manifests, "Deployment").size).toBe(0);
    expect(byKind(manifests, "Job").size).toBe(0);
    expect(byKind(manifests, "Ingress").size).toBe(0);
  });

  it("switches one service off, and refuses to leave a caller without the service it calls", async () => {
    expect(await deployments({ set: ["services.warehouse.enabled=false"] })).toEqual(
      [...both.filter((s) => s !== "warehouse"), "console"].map((s) => `hexa-${s}`).sort(),
    );
    expect(await renderError({ set: ["services.order.enabled=false"] })).toContain(
      "services.marketing calls order, which is not an enabled service",
    );
  });

  it("switches the console off, with its route", async () => {
    const manifests = await render({ set: ["console.enabled=false"] });
    expect(byKind(manifests, "Deployment").has("hexa-console")).toBe(false);
    expect(byKind(manifests, "Service").has("hexa-console")).toBe(false);
    expect(JSON.stringify(byKind(manifests, "Ingress").get("hexa"))).not.toContain("hexa-console");
  });

  it("sets replicas instead of an autoscaler when autoscaling is off", async () => {
    const manifests = await render({
      set: ["services.order.autoscaling.enabled=false", "services.order.replicas=3"],
    });
    expect(byKind(manifests, "Deployment").get("hexa-order")?.spec.replicas).toBe(3);
    expect(byKind(manifests, "HorizontalPodAutoscaler").has("hexa-order")).toBe(false);
    expect(byKind(manifests, "Deployment").get("hexa-marketing")?.spec.replicas).toBeUndefined();
  });
});

describe("configuration", () => {
  it("gives the console its OpenID Connect client, at the services' issuer unless told otherwise", async () => {
    const env = async (set: string[]) => {
      const manifests = await render({ set: ["auth.issuer=https://id.example.com/realms/hexa", ...set] });
      const [container] =
        byKind(manifests, "Deployment").get("hexa-console")?.spec.template.spec.containers ?? [];
      return Object.fromEntries(
        container.env.map((variable: { name: string; value: string }) => [variable.name, variable.value]),
      );
    };
    expect(await env(["console.oidc.clientId=console"])).toMatchObject({
      CONSOLE_OIDC_AUTHORITY: "https://id.example.com/realms/hexa",
      CONSOLE_OIDC_CLIENT_ID: "console",
      CONSOLE_OIDC_SCOPE: "openid profile",
      AUTH_ROLE_CLAIM: "roles",
    });
    expect(await env(["console.oidc.authority=https://login.example.com/"])).toMatchObject({
      CONSOLE_OIDC_AUTHORITY: "https://login.example.com/",
    });
  });

  it("points a caller at the called service's Kubernetes DNS name and lets it through", async () => {
    const manifests = await render({ release: "shop" });
    expect(byKind(manifests, "ConfigMap").get("shop-marketing")?.data.ORDER_URL).toBe(
      "http://shop-order:8080",
    );
    expect(byKind(manifests, "ConfigMap").get("shop-order")?.data.MARKETING_URL).toBeUndefined();
    const egress = byKind(manifests, "NetworkPolicy").get("shop-marketing")?.spec.egress;
    expect(egress).toContainEqual({
      to: [
        { podSelector: { matchLabels: expect.objectContaining({ "app.kubernetes.io/component": "order" }) } },
      ],
      ports: [{ port: 8080, protocol: "TCP" }],
    });
  });

  it("names the environment variable of a hyphenated service as the runtime reads it", async () => {
    const file = valuesFile(
      "dashboard-caller.yaml",
      "suites:\n  vaccination:\n    enabled: true\nservices:\n  notification:\n    calls: [vaccination-dashboard]\n",
    );
    const manifests = await render({ valuesFiles: [file] });
    expect(byKind(manifests, "ConfigMap").get("hexa-notification")?.data.VACCINATION_DASHBOARD_URL).toBe(
      "http://hexa-vaccination-dashboard:8080",
    );
  });

  it("lets a service's env override the chart's settings", async () => {
    const manifests = await render({
      set: ["services.order.env.LOG_LEVEL=debug", "services.order.env.EXTRA=1"],
    });
    expect(byKind(manifests, "ConfigMap").get("hexa-order")?.data).toMatchObject({
      LOG_LEVEL: "debug",
      EXTRA: "1",
    });
    expect(byKind(manifests, "ConfigMap").get("hexa-marketing")?.data.LOG_LEVEL).toBe("info");
  });

  it("stores database.url in a Secret of its own, also for the hook Job, and never in a ConfigMap", async () => {
    const url = "postgres://hexa:s3cret@db:5432/hexa";
    const manifests = await render({ set: [`database.url=${url}`] });
    const secrets = byKind(manifests, "Secret");
    expect(secrets.get("hexa-database")?.stringData).toEqual({ DATABASE_URL: url });
    expect(secrets.get("hexa-migrations-database")?.metadata.annotations?.["helm.sh/hook"]).toBe(
      "pre-install,pre-upgrade",
    );
    for (const configMap of byKind(manifests, "ConfigMap").values())
      expect(JSON.stringify(configMap)).not.toContain("s3cret");
    const container = byKind(manifests, "Deployment").get("hexa-order")?.spec.template.spec.containers[0];
    expect(container.env[0].valueFrom.secretKeyRef).toEqual({ name: "hexa-database", key: "DATABASE_URL" });
  });

  it("tells each service its version (hexa_build_info): the image tag, else the chart's appVersion", async () => {
    const version = async (set: string[]) =>
      byKind(await render({ set }), "ConfigMap").get("hexa-order")?.data.HEXA_VERSION;
    const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as { appVersion: string };
    expect(await version([])).toBe(chart.appVersion);
    expect(await version(["image.tag=1.4.2", "image.repository=registry.example:5000/hexa"])).toBe("1.4.2");
  });

  it("reads DATABASE_URL from an existing Secret", async () => {
    const manifests = await render({ valuesFiles: [production] });
    expect(byKind(manifests, "Secret").size).toBe(0);
    const container = byKind(manifests, "Deployment").get("hexa-order")?.spec.template.spec.containers[0];
    expect(container.env[0].valueFrom.secretKeyRef).toEqual({ name: "hexa-database", key: "DATABASE_URL" });
  });

  it("refuses a termination grace period that does not cover the drain and the grace for calls", async () => {
    const error = await renderError({ set: ["terminationGracePeriodSeconds=10"] });
    expect(error).toContain("terminationGracePeriodSeconds (10) must be larger than");
    const manifests = await render({ set: ["config.shutdownGraceMs=20000", "config.shutdownDrainMs=5000"] });
    expect(
      byKind(manifests, "Deployment").get("hexa-order")?.spec.template.spec.terminationGracePeriodSeconds,
    ).toBe(40);
  });
});

describe("authentication", () => {
  // The services' Deployments: the console's verifies no token, so it gets no key.
  const deploymentsOf = (manifests: Manifest[]) =>
    [...byKind(manifests, "Deployment").values()].filter(
      (deployment) => !deployment.metadata.name.endsWith("-console"),
    );

  it("runs in development mode by default: one generated ES256 key, mounted read-only where every pod reads it", async () => {
    const manifests = await render();
    const secret = byKind(manifests, "Secret").get("hexa-dev-auth");
    const key = createPrivateKey(Buffer.from(secret?.data["signing-key.pem"], "base64").toString());
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    for (const deployment of deploymentsOf(manifests)) {
      const pod = deployment.spec.template.spec;
      const config = byKind(manifests, "ConfigMap").get(deployment.metadata.name)?.data;
      expect(config?.AUTH_JWKS_URL, deployment.metadata.name).toBeUndefined();
      expect(pod.containers[0].volumeMounts).toContainEqual({
        name: "dev-auth",
        mountPath: config?.AUTH_DEV_KEY_DIR,
        readOnly: true,
      });
      expect(pod.volumes).toContainEqual({
        name: "dev-auth",
        secret: { secretName: "hexa-dev-auth", defaultMode: 0o440 },
      });
    }
  });

  it("serves a call with a token minted as NOTES.txt says, from the rendered key", async () => {
    const manifests = await render();
    const keyDir = join(scratch, "dev-auth");
    mkdirSync(keyDir, { recursive: true });
    const pem = Buffer.from(
      byKind(manifests, "Secret").get("hexa-dev-auth")?.data["signing-key.pem"],
      "base64",
    );
    writeFileSync(join(keyDir, "signing-key.pem"), pem, { mode: 0o400 });
    // The pod's `hexa token …` is apps/ops/src/token.ts with the pod's AUTH_DEV_KEY_DIR.
    const root = resolve(import.meta.dirname, "../..");
    const { stdout: token } = await promisify(execFile)(
      process.execPath,
      ["apps/ops/src/token.ts", "--role", "marketer", "--sub", "m1"],
      { cwd: root, env: { PATH: process.env.PATH ?? "", AUTH_DEV_KEY_DIR: keyDir } },
    );
    const database = await createTestDatabase();
    const app = await startApp("all-in-one", {
      PORT: String(await freePort()),
      DATABASE_URL: database.url,
      AUTH_DEV_KEY_DIR: keyDir,
    });
    try {
      const response = await fetch(`${app.url}/trial.marketing.v1.MarketingService/StartTrialPlan`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token.trim()}` },
        body: JSON.stringify({ productId: "espresso-machine", name: "Espresso week", trialDays: 7 }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ plan: { status: "TRIAL_PLAN_STATUS_ACTIVE" } });
    } finally {
      await app.stop();
      await database.drop();
    }
  }, 60_000);

  it("uses the identity provider's JWKS with the production values, with no development key", async () => {
    const manifests = await render({ valuesFiles: [production] });
    expect(byKind(manifests, "Secret").size).toBe(0);
    for (const deployment of deploymentsOf(manifests)) {
      const name = deployment.metadata.name;
      expect(byKind(manifests, "ConfigMap").get(name)?.data, name).toMatchObject({
        AUTH_JWKS_URL: "https://keycloak.example.com/realms/hexa/protocol/openid-connect/certs",
        AUTH_ISSUER: "https://keycloak.example.com/realms/hexa",
        AUTH_AUDIENCE: "hexa-api",
        AUTH_ROLE_CLAIM: "realm_access.roles",
      });
      expect(JSON.stringify(deployment.spec.template.spec), name).not.toContain("dev-auth");
    }
    for (const caller of ["hexa-marketing", "hexa-reservation"]) {
      expect(byKind(manifests, "ConfigMap").get(caller)?.data.AUTH_CLIENT_TOKEN_URL).toMatch(/^https:/);
      expect(
        byKind(manifests, "Deployment").get(caller)?.spec.template.spec.containers[0].envFrom,
      ).toContainEqual({
        secretRef: { name: "hexa-auth-client" },
      });
    }
  });

  it.each([
    [["auth.jwksUrl=https://idp.example.com/jwks"], "auth.issuer: required with auth.jwksUrl"],
    [
      ["auth.jwksUrl=https://idp.example.com/jwks", "auth.issuer=i"],
      "auth.audience: required with auth.jwksUrl",
    ],
    [
      ["auth.jwksUrl=https://idp.example.com/jwks", "auth.issuer=i", "auth.audience=a"],
      "auth.clientTokenUrl: required with auth.jwksUrl, since inventory calls reservation",
    ],
    [
      [
        "auth.jwksUrl=https://idp.example.com/jwks",
        "auth.issuer=i",
        "auth.audience=a",
        "auth.clientTokenUrl=https://idp.example.com/token",
      ],
      "auth.clientSecretName: required with auth.jwksUrl",
    ],
  ])("refuses a JWKS without what it needs (%j)", async (set, message) => {
    expect(await renderError({ set })).toContain(message);
  });

  it.each([
    [
      "the default values",
      [],
      "TOKEN=$(kubectl -n hexa exec deploy/hexa-marketing -- hexa token --role marketer --sub m1)",
    ],
    [
      "the production values",
      ["--values", production],
      "TOKEN=<an access token of https://keycloak.example.com/realms/hexa",
    ],
  ])(
    "installs with %s (helm install --dry-run), and NOTES.txt's curl carries the token",
    async (_, args, tokenLine) => {
      const result = await helm([
        "install",
        "hexa",
        chartDir,
        "--namespace",
        "hexa",
        "--dry-run=client",
        ...args,
      ]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const notes = result.stdout.slice(result.stdout.indexOf("NOTES:"));
      expect(notes).toContain(tokenLine);
      expect(notes).toContain(`-H "Authorization: Bearer $TOKEN"`);
    },
  );
});

describe("monitoring", () => {
  const labelsOf = (manifest: Manifest | undefined) =>
    (manifest?.metadata as { labels?: Record<string, string> } | undefined)?.labels;

  it("renders no ServiceMonitor, PrometheusRule, scrape annotations or tracing settings by default", async () => {
    const manifests = await render();
    expect(byKind(manifests, "ServiceMonitor").size).toBe(0);
    expect(byKind(manifests, "PrometheusRule").size).toBe(0);
    const deployment = byKind(manifests, "Deployment").get("hexa-order");
    expect(deployment?.spec.template.metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
    expect(Object.keys(byKind(manifests, "ConfigMap").get("hexa-order")?.data ?? {})).not.toContain(
      "OTEL_EXPORTER_OTLP_ENDPOINT",
    );
  });

  it("renders a ServiceMonitor, a PrometheusRule, scrape annotations and the OTLP endpoint when enabled", async () => {
    const manifests = await render({
      valuesFiles: [
        valuesFile(
          "monitoring.yaml",
          [
            "metrics:",
            "  podAnnotations: true",
            "  serviceMonitor: {enabled: true, interval: 15s, labels: {release: prometheus}}",
            "  prometheusRule: {enabled: true, labels: {release: prometheus}, breakerOpenFor: 2m}",
            "tracing: {otlpEndpoint: 'http://otel-collector:4318', sampler: parentbased_traceidratio, samplerArg: 0.25}",
          ].join("\n"),
        ),
      ],
    });
    expect(validateAll(manifests)).toEqual([]);

    const [monitor, ...moreMonitors] = byKind(manifests, "ServiceMonitor").values();
    expect(moreMonitors).toEqual([]);
    expect(labelsOf(monitor)).toMatchObject({ release: "prometheus" });
    expect(monitor?.spec.endpoints).toEqual([
      { port: "http", path: "/metrics", interval: "15s", scrapeTimeout: "10s" },
    ]);
    // It selects the Services of every enabled service, by the port name they declare.
    for (const service of byKind(manifests, "Service").values()) {
      expect(labelsOf(service)).toMatchObject(monitor?.spec.selector.matchLabels);
      expect(service.spec.ports.map((port: { name: string }) => port.name)).toContain("http");
    }

    const [rule, ...moreRules] = byKind(manifests, "PrometheusRule").values();
    expect(moreRules).toEqual([]);
    const alerts = new Map<string, { expr: string; for: string }>(
      rule?.spec.groups.flatMap((group: { rules: Array<{ alert: string; expr: string; for: string }> }) =>
        group.rules.map((entry) => [entry.alert, entry] as const),
      ),
    );
    expect([...alerts.keys()].sort()).toEqual([
      "HexaBusDisconnected",
      "HexaCircuitBreakerOpen",
      "HexaDeadLetters",
      "HexaOutboxBacklogGrowing",
      "HexaRpcServerFaults",
    ]);
    expect(alerts.get("HexaBusDisconnected")?.expr).toContain("hexa_bus_connected");
    expect(alerts.get("HexaBusDisconnected")?.expr).toContain("== 0");
    expect(alerts.get("HexaRpcServerFaults")?.expr).toContain(
      'grpc_server_handled_total{namespace="hexa",grpc_code=~',
    );
    expect(alerts.get("HexaRpcServerFaults")?.expr).toContain("> 0.05");
    expect(alerts.get("HexaOutboxBacklogGrowing")?.expr).toContain("hexa_outbox_unpublished_events");
    expect(alerts.get("HexaDeadLetters")?.expr).toContain("hexa_dead_letters");
    expect(alerts.get("HexaCircuitBreakerOpen")?.expr).toContain("hexa_circuit_breaker_state");
    expect(alerts.get("HexaCircuitBreakerOpen")?.expr).toContain("== 2");
    expect(alerts.get("HexaCircuitBreakerOpen")?.for).toBe("2m");
    // Alert templates reach Prometheus unexpanded by Helm.
    expect(JSON.stringify(rule)).toContain("{{ $labels.consumer }}");

    const deployment = byKind(manifests, "Deployment").get("hexa-order");
    expect(deployment?.spec.template.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "8080",
      "prometheus.io/path": "/metrics",
    });
    expect(byKind(manifests, "ConfigMap").get("hexa-order")?.data).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4318",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
    });
  });

  it("renders the Grafana dashboard when enabled, whose queries read only metrics the services serve", async () => {
    expect([...byKind(await render(), "ConfigMap").keys()]).not.toContain("hexa-grafana-dashboard");
    const manifests = await render({ set: ["metrics.grafanaDashboard.enabled=true"] });
    expect(validateAll(manifests)).toEqual([]);
    const configMap = byKind(manifests, "ConfigMap").get("hexa-grafana-dashboard");
    expect(labelsOf(configMap)).toMatchObject({ grafana_dashboard: "1" });
    const dashboard = JSON.parse(configMap?.data["hexa.json"]) as {
      panels: Array<{ targets?: Array<{ expr: string }> }>;
    };
    const queries = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
    expect(queries.length).toBeGreaterThan(10);
    const served = servedMetricNames();
    const read = new Set(queries.flatMap((query) => query.match(/\b[a-z_][a-z0-9_]*(?=\{)/g) ?? []));
    for (const metric of [
      "grpc_server_handled_total",
      "grpc_server_handling_seconds_bucket",
      "hexa_build_info",
    ]) {
      expect(read).toContain(metric);
    }
    for (const metric of read) expect(served, `${metric} is not served`).toContain(metric);
    for (const query of queries) expect(query).toContain('namespace="$namespace"');
  });

  it("rejects a misspelled monitoring key and a malformed duration", async () => {
    expect(await renderError({ set: ["metrics.serviceMonitor.enable=true"] })).toContain("enable");
    expect(await renderError({ set: ["metrics.serviceMonitor.interval=30 seconds"] })).toContain("interval");
  });

  it("catches a malformed monitoring object in the structural checks", () => {
    const broken = {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: "x" },
      spec: { selector: { matchLabels: {} }, endpoints: [{ port: "http", intervl: "30s" }] },
    };
    expect(validateAll([broken])).toEqual([
      "monitoring.coreos.com/v1/ServiceMonitor x: ServiceMonitor.spec.endpoints[0].intervl: unknown field",
    ]);
  });
});
