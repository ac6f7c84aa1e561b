/**
 * Structural checks of the Prometheus Operator objects the chart renders (monitoring.coreos.com/v1
 * ServiceMonitor and PrometheusRule), since kubernetes-models carries only the core Kubernetes
 * kinds. They cover the fields the chart writes, as the operator's CRDs define them: unknown
 * fields, types, required fields, Prometheus durations, alert names.
 */
import type { Manifest } from "./manifests.ts";

type Shape = { readonly [field: string]: Check };
type Check = (value: unknown, path: string, problems: string[]) => void;

const string: Check = (value, path, problems) => {
  if (typeof value !== "string" || value === "") problems.push(`${path}: must be a non-empty string`);
};
const duration: Check = (value, path, problems) => {
  if (typeof value !== "string" || !/^([0-9]+(ms|s|m|h|d|w|y))+$/.test(value))
    problems.push(`${path}: must be a Prometheus duration such as 30s or 5m`);
};
const stringMap: Check = (value, path, problems) => {
  if (!isObject(value)) return void problems.push(`${path}: must be a map`);
  for (const [key, item] of Object.entries(value)) string(item, `${path}.${key}`, problems);
};

function object(shape: Shape, required: readonly string[] = []): Check {
  return (value, path, problems) => {
    if (!isObject(value)) return void problems.push(`${path}: must be an object`);
    for (const field of required) if (!(field in value)) problems.push(`${path}.${field}: required`);
    for (const [field, item] of Object.entries(value)) {
      const check = shape[field];
      if (check) check(item, `${path}.${field}`, problems);
      else problems.push(`${path}.${field}: unknown field`);
    }
  };
}

function list(item: Check, min = 0): Check {
  return (value, path, problems) => {
    if (!Array.isArray(value)) return void problems.push(`${path}: must be a list`);
    if (value.length < min) problems.push(`${path}: must have at least ${min} item(s)`);
    for (const [index, entry] of value.entries()) item(entry, `${path}[${index}]`, problems);
  };
}

const metadata = object({ name: string, namespace: string, labels: stringMap, annotations: stringMap }, [
  "name",
]);

const serviceMonitor = object(
  {
    apiVersion: string,
    kind: string,
    metadata,
    spec: object(
      {
        selector: object({ matchLabels: stringMap }, ["matchLabels"]),
        namespaceSelector: object({ matchNames: list(string, 1) }),
        endpoints: list(
          object({ port: string, path: string, interval: duration, scrapeTimeout: duration }, ["port"]),
          1,
        ),
      },
      ["selector", "endpoints"],
    ),
  },
  ["apiVersion", "kind", "metadata", "spec"],
);

const alertName: Check = (value, path, problems) => {
  if (typeof value !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(value))
    problems.push(`${path}: must be a metric-style name`);
};

const prometheusRule = object(
  {
    apiVersion: string,
    kind: string,
    metadata,
    spec: object(
      {
        groups: list(
          object(
            {
              name: string,
              rules: list(
                object(
                  {
                    alert: alertName,
                    expr: string,
                    for: duration,
                    labels: stringMap,
                    annotations: stringMap,
                  },
                  ["alert", "expr"],
                ),
                1,
              ),
            },
            ["name", "rules"],
          ),
          1,
        ),
      },
      ["groups"],
    ),
  },
  ["apiVersion", "kind", "metadata", "spec"],
);

/** Throws with every problem found, like a kubernetes-models `validate()`. */
export function validateServiceMonitor(manifest: Manifest): void {
  const problems: string[] = [];
  serviceMonitor(manifest, "ServiceMonitor", problems);
  if (problems.length > 0) throw new Error(problems.join("; "));
}

/** Throws with every problem found, like a kubernetes-models `validate()`. */
export function validatePrometheusRule(manifest: Manifest): void {
  const problems: string[] = [];
  prometheusRule(manifest, "PrometheusRule", problems);
  if (problems.length > 0) throw new Error(problems.join("; "));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
