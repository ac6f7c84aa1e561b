import type { DescEnum } from "@bufbuild/protobuf";
import { InvalidArgument } from "@hexa/core/shared";

/**
 * A core status list and its proto enum, mapped by name: the proto value `ORDER_STATUS_PLACED`
 * (local name `PLACED`) is the core's `"PLACED"`. Derived from the protobuf-es descriptor, so one
 * list per concept (in core) decides the proto mapping as it decides the table's CHECK.
 */
export interface EnumMapping<Name extends string> {
  readonly names: readonly Name[];
  /** The proto number of a core name; throws for a name outside the list. */
  toProto(name: Name): number;
  /** The core name of a proto number; throws for unspecified (0) and for numbers the list does not name. */
  fromProto(value: number): Name;
  /**
   * A request's filter: undefined for unspecified (0, any), else the name; InvalidArgument naming
   * `field` for a number outside the list.
   */
  filter(field: string, value: number): Name | undefined;
  /** A required field's name (an event's status): InvalidArgument naming `field` for unspecified and for numbers outside the list. */
  required(field: string, value: number): Name;
}

/**
 * Maps `names` onto `schema`'s values. Throws at once when a name has no proto value, so a status
 * added in core without its proto value stops the start instead of failing a call.
 */
export function enumMapping<const Name extends string>(
  names: readonly Name[],
  schema: DescEnum,
): EnumMapping<Name> {
  const toNumber = new Map<string, number>();
  const toName = new Map<number, Name>();
  for (const name of names) {
    const value = schema.values.find((known) => known.localName === name);
    if (!value) throw new Error(`${schema.typeName} has no value for ${name}`);
    toNumber.set(name, value.number);
    toName.set(value.number, name);
  }
  const fromProto = (value: number): Name | undefined => toName.get(value);
  return {
    names,
    toProto: (name) => {
      const number = toNumber.get(name);
      if (number === undefined) throw new Error(`${name} is not a value of ${schema.typeName}`);
      return number;
    },
    fromProto: (value) => {
      const name = fromProto(value);
      if (name === undefined) throw new Error(`${value} is not a value of ${schema.typeName}`);
      return name;
    },
    filter: (field, value) => {
      if (value === 0) return undefined;
      const name = fromProto(value);
      if (name === undefined)
        throw new InvalidArgument(field, `must be one of ${names.join(", ")}, or unspecified for any`);
      return name;
    },
    required: (field, value) => {
      const name = fromProto(value);
      if (name === undefined) throw new InvalidArgument(field, `${value} is not one of ${names.join(", ")}`);
      return name;
    },
  };
}
