/**
 * Rendering the chart and checking what it renders: `helm template` into plain objects, and each
 * object validated against the Kubernetes schema of its kind.
 */

import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { parseAllDocuments } from "yaml";
import { chartDir, helm } from "./helm.ts";
import { validateHttpRoute } from "./httproute.ts";
import { modelDeclaration, unknownFields } from "./known-fields.ts";
import { validatePrometheusRule, validateServiceMonitor } from "./monitoring.ts";

/** A rendered Kubernetes object, as plain data. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field by the tests
  readonly [field: string]: any;
}

export interface RenderOptions {
  /** Values files, relative to the chart or absolute. */
  readonly valuesFiles?: readonly string[];
  /** `--set` assignments, e.g. "suites.trial.enabled=false". */
  readonly set?: readonly string[];
  readonly release?: string;
  readonly namespace?: string;
}

/** `helm template`: resolves with the objects, or rejects with helm's error output. */
export async function render(options: RenderOptions = {}): Promise<Manifest[]> {
  const result = await helm(templateArgs(options));
  if (result.code !== 0) throw new Error(`helm template failed (${result.code}):\n${result.stderr}`);
  return parseManifests(result.stdout);
}

/** `helm template` that is expected to fail: resolves with helm's error output. */
export async function renderError(options: RenderOptions = {}): Promise<string> {
  const result = await helm(templateArgs(options));
  if (result.code === 0) throw new Error("helm template succeeded where it should have failed");
  return result.stderr;
}

function templateArgs(options: RenderOptions): string[] {
  return [
    "template",
    options.release ?? "hexa",
    chartDir,
    "--namespace",
    options.namespace ?? "hexa",
    ...(options.valuesFiles ?? []).flatMap((file) => ["--values", file]),
    ...(options.set ?? []).flatMap((assignment) => ["--set", assignment]),
  ];
}

export function parseManifests(text: string): Manifest[] {
  const manifests: Manifest[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) throw new Error(`rendered YAML does not parse: ${document.errors[0]}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value))
      throw new Error("a rendered document is not an object");
    manifests.push(value as Manifest);
  }
  return manifests;
}

type Validator = (manifest: Manifest) => void;

/**
 * kubernetes-models' schema check of a kind, plus the fields its declarations do not know (the
 * schema check alone lets a misspelled field through).
 */
function model(Model: new (data: never) => { validate(): void }, declaration: string): Validator {
  const file = modelDeclaration(declaration);
  return (manifest) => {
    new Model(manifest as never).validate();
    const unknown = unknownFields(manifest, file);
    if (unknown.length > 0) throw new Error(unknown.join("; "));
  };
}

/** Every kind the chart may render, by "apiVersion/kind", with its schema check. */
const validators: ReadonlyMap<string, Validator> = new Map([
  ["v1/ConfigMap", model(ConfigMap, "v1/ConfigMap")],
  ["v1/Secret", model(Secret, "v1/Secret")],
  ["v1/Service", model(Service, "v1/Service")],
  ["v1/ServiceAccount", model(ServiceAccount, "v1/ServiceAccount")],
  ["apps/v1/Deployment", model(Deployment, "apps/v1/Deployment")],
  [
    "autoscaling/v2/HorizontalPodAutoscaler",
    model(HorizontalPodAutoscaler, "autoscaling/v2/HorizontalPodAutoscaler"),
  ],
  ["policy/v1/PodDisruptionBudget", model(PodDisruptionBudget, "policy/v1/PodDisruptionBudget")],
  ["networking.k8s.io/v1/NetworkPolicy", model(NetworkPolicy, "networking.k8s.io/v1/NetworkPolicy")],
  ["networking.k8s.io/v1/Ingress", model(Ingress, "networking.k8s.io/v1/Ingress")],
  ["batch/v1/Job", model(Job, "batch/v1/Job")],
  // kubernetes-models has no Gateway API kinds: a check of our own (see httproute.ts).
  ["gateway.networking.k8s.io/v1/HTTPRoute", validateHttpRoute],
  // Nor the Prometheus Operator's (see monitoring.ts).
  ["monitoring.coreos.com/v1/ServiceMonitor", validateServiceMonitor],
  ["monitoring.coreos.com/v1/PrometheusRule", validatePrometheusRule],
]);

/**
 * Validates each manifest against its kind's schema, unknown fields included; an unknown
 * apiVersion/kind is an error too.
 * Returns the problems, one line each, naming the object.
 */
export function validateAll(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  for (const manifest of manifests) {
    const key = `${manifest.apiVersion}/${manifest.kind}`;
    const name = `${key} ${manifest.metadata?.name ?? "(no name)"}`;
    const validate = validators.get(key);
    if (!validate) {
      problems.push(`${name}: kind not known to the checks`);
      continue;
    }
    try {
      validate(manifest);
    } catch (error) {
      problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return problems;
}

/** The objects of one kind, by name. */
export function byKind(manifests: readonly Manifest[], kind: string): Map<string, Manifest> {
  return new Map(manifests.filter((m) => m.kind === kind).map((m) => [m.metadata.name, m]));
}
