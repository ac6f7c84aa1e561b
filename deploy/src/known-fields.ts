/**
 * Unknown fields in rendered manifests. kubernetes-models' `validate()` checks types and required
 * fields but lets a misspelled field through (`readinesProbe` would be silently dropped by the API
 * server). Its TypeScript declarations, however, list every field of every Kubernetes type: this
 * reads them and walks a manifest along them, reporting each field its type does not have.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";

/** How a declared type is walked: an object with known fields, a list, a map, or a leaf (no check). */
type Shape =
  | { readonly kind: "object"; readonly file: string }
  | { readonly kind: "array"; readonly of: Shape }
  | { readonly kind: "map"; readonly of: Shape }
  | { readonly kind: "leaf" };

interface Declaration {
  /** Field name -> its shape; undefined when the file declares a type alias, not an interface. */
  readonly fields: ReadonlyMap<string, Shape> | undefined;
}

const modelsDir = dirname(createRequire(import.meta.url).resolve("kubernetes-models/package.json"));
const declarations = new Map<string, Declaration>();

/** The declaration file of a kubernetes-models class, e.g. "apps/v1/Deployment". */
export function modelDeclaration(path: string): string {
  return join(modelsDir, `${path}.d.ts`);
}

/** Each field of `manifest` (recursively) that the declared type at `file` does not have. */
export function unknownFields(manifest: unknown, file: string, path = ""): string[] {
  const problems: string[] = [];
  walk(manifest, { kind: "object", file }, path, problems);
  return problems;
}

function walk(value: unknown, shape: Shape, path: string, problems: string[]): void {
  if (value === null || value === undefined || shape.kind === "leaf") return;
  if (shape.kind === "array") {
    if (!Array.isArray(value)) return;
    for (const [index, item] of value.entries()) walk(item, shape.of, `${path}[${index}]`, problems);
    return;
  }
  if (typeof value !== "object" || Array.isArray(value)) return; // a type error: validate() reports it
  if (shape.kind === "map") {
    for (const [key, item] of Object.entries(value)) walk(item, shape.of, `${path}.${key}`, problems);
    return;
  }
  const { fields } = declaration(shape.file);
  if (!fields) return;
  for (const [key, item] of Object.entries(value)) {
    const field = fields.get(key);
    if (field) walk(item, field, path ? `${path}.${key}` : key, problems);
    else problems.push(`${path ? `${path}.` : ""}${key}: unknown field`);
  }
}

function declaration(file: string): Declaration {
  let known = declarations.get(file);
  if (!known) {
    known = parse(file);
    declarations.set(file, known);
  }
  return known;
}

/**
 * Reads `export interface I<Name> { "field"?: Type; ... }` from a generated declaration file.
 * Field types are a class alias imported from another file, `Array<...>`, a map
 * `{ [key: string]: ... }`, or a primitive or literal union (a leaf).
 */
function parse(file: string): Declaration {
  const text = readFileSync(file, "utf8");
  const imports = new Map<string, string>();
  for (const [, alias, specifier] of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    imports.set(alias as string, specifier as string);
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}/m.exec(text)?.[1];
  if (body === undefined) return { fields: undefined };
  const fields = new Map<string, Shape>();
  const lines = body.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const match = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i] as string);
    if (!match) continue;
    const [, name, rest] = match as unknown as [string, string, string];
    if (rest === "{") {
      // A map: the next line declares the values, `[key: string]: Type;`.
      const values = /^ {8}\[key: string\]: (.*);$/.exec(lines[i + 1] ?? "")?.[1];
      fields.set(name, { kind: "map", of: values ? shapeOf(values, file, imports) : { kind: "leaf" } });
    } else {
      fields.set(name, shapeOf(rest.replace(/;$/, ""), file, imports));
    }
  }
  return { fields };
}

function shapeOf(type: string, file: string, imports: ReadonlyMap<string, string>): Shape {
  const array = /^Array<(.*)>$/.exec(type);
  if (array) return { kind: "array", of: shapeOf(array[1] as string, file, imports) };
  const specifier = imports.get(type);
  if (!specifier) return { kind: "leaf" };
  return { kind: "object", file: resolveDeclaration(specifier, file) };
}

/** The .d.ts file an import specifier names, relative or in a package next to kubernetes-models. */
function resolveDeclaration(specifier: string, from: string): string {
  if (specifier.startsWith(".")) return resolve(dirname(from), specifier.replace(/\.js$/, ".d.ts"));
  const [scope, name, ...rest] = specifier.split("/");
  const packageName = `${scope}/${name}`;
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const modules = basename(dir) === "node_modules" ? dir : join(dir, "node_modules");
    const target = join(modules, packageName, `${rest.join("/")}.d.ts`);
    if (existsSync(target)) return target;
    if (dirname(dir) === dir) throw new Error(`cannot find ${specifier} from ${from}`);
  }
}
