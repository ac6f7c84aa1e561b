/**
 * A structural check of the Gateway API HTTPRoute (gateway.networking.k8s.io/v1) the chart
 * renders, since kubernetes-models carries only the core Kubernetes kinds. It covers the fields the
 * chart writes, with the limits of the Gateway API's own validation: unknown fields, types,
 * required fields, at most 16 rules and 64 matches per rule, path values starting with "/".
 */
import type { Manifest } from "./manifests.ts";

type Shape = { readonly [field: string]: Check };
type Check = (value: unknown, path: string, problems: string[]) => void;

const string: Check = (value, path, problems) => {
  if (typeof value !== "string" || value === "") problems.push(`${path}: must be a non-empty string`);
};
const port: Check = (value, path, problems) => {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65_535)
    problems.push(`${path}: must be a port number`);
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

function list(item: Check, max: number, min = 0): Check {
  return (value, path, problems) => {
    if (!Array.isArray(value)) return void problems.push(`${path}: must be a list`);
    if (value.length < min || value.length > max)
      problems.push(`${path}: must have ${min} to ${max} items, has ${value.length}`);
    for (const [index, entry] of value.entries()) item(entry, `${path}[${index}]`, problems);
  };
}

const pathMatch: Check = (value, path, problems) => {
  object({ type: string, value: string }, ["type", "value"])(value, path, problems);
  if (!isObject(value)) return;
  if (!["Exact", "PathPrefix", "RegularExpression"].includes(value.type as string))
    problems.push(`${path}.type: must be Exact, PathPrefix or RegularExpression`);
  if (typeof value.value !== "string" || !value.value.startsWith("/"))
    problems.push(`${path}.value: must start with "/"`);
};

const httpRoute = object(
  {
    apiVersion: string,
    kind: string,
    metadata: object({ name: string, namespace: string, labels: stringMap, annotations: stringMap }, [
      "name",
    ]),
    spec: object(
      {
        parentRefs: list(
          object(
            { name: string, namespace: string, sectionName: string, port, group: string, kind: string },
            ["name"],
          ),
          32,
          1,
        ),
        hostnames: list(string, 16),
        rules: list(
          object(
            {
              matches: list(object({ path: pathMatch }), 64, 1),
              backendRefs: list(object({ name: string, port }, ["name", "port"]), 16, 1),
            },
            ["backendRefs"],
          ),
          16,
          1,
        ),
      },
      ["parentRefs", "rules"],
    ),
  },
  ["apiVersion", "kind", "metadata", "spec"],
);

/** Throws with every problem found, like a kubernetes-models `validate()`. */
export function validateHttpRoute(manifest: Manifest): void {
  const problems: string[] = [];
  httpRoute(manifest, "HTTPRoute", problems);
  if (problems.length > 0) throw new Error(problems.join("; "));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
