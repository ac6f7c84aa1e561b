import type { VaccinationCounters, VaccineCount } from "@hexa/core/vaccination/dashboard";
import { execute } from "../../kit/statements.ts";
import type { EntityManager } from "../../postgres/database.ts";
import { table } from "./schema.ts";

/**
 * Vaccination counts are the dashboard's key-value read model (polyglot persistence): the other
 * read models are relational rows, this one is a single table of counters keyed by name, used the
 * way a key-value store would be used: increment a key, scan a key prefix.
 *
 *   vaccine/<vaccineId>/vaccinations       doses of the vaccine given
 *   vaccine/<vaccineId>/people-completed   people whose required doses of it are all given
 *
 * Keys sort byte-wise (collation "C"), so a prefix is a range of the primary key. An increment is
 * one atomic upsert: concurrent doses never lose a count, and need no lock.
 */
export const COUNTER_PREFIX = "vaccine/";
const PREFIX_END = "vaccine0"; // "0" follows "/": every key of the prefix sorts below it

const VACCINATIONS = "vaccinations";
const PEOPLE_COMPLETED = "people-completed";

export function counterKey(vaccineId: string, name: typeof VACCINATIONS | typeof PEOPLE_COMPLETED): string {
  return `${COUNTER_PREFIX}${vaccineId}/${name}`;
}

export function counters(em: EntityManager): VaccinationCounters {
  return {
    add: async (vaccineId, tally) => {
      // Both keys are written, so a vaccine's counts exist together from its first dose; always in
      // the same order, so two transactions never wait on each other crosswise.
      await execute(
        em,
        `insert into ${table("counter")} as c (key, value) values ($1, $2), ($3, $4)
         on conflict (key) do update set value = c.value + excluded.value`,
        [
          counterKey(vaccineId, PEOPLE_COMPLETED),
          tally.peopleCompleted,
          counterKey(vaccineId, VACCINATIONS),
          tally.vaccinations,
        ],
      );
    },
    perVaccine: async () => {
      const counters = await execute<{ key: string; value: string | number }>(
        em,
        `select key, value from ${table("counter")} where key >= $1 and key < $2 order by key`,
        [COUNTER_PREFIX, PREFIX_END],
      );
      const counts = new Map<string, { vaccinations: number; peopleCompleted: number }>();
      for (const { key, value } of counters) {
        const [vaccineId, name] = key.slice(COUNTER_PREFIX.length).split("/");
        if (!vaccineId) continue;
        const count = counts.get(vaccineId) ?? { vaccinations: 0, peopleCompleted: 0 };
        if (name === VACCINATIONS) count.vaccinations = Number(value);
        else if (name === PEOPLE_COMPLETED) count.peopleCompleted = Number(value);
        counts.set(vaccineId, count);
      }
      const names = await vaccineNames(em, [...counts.keys()]);
      return [...counts.entries()]
        .map(([vaccineId, count]) => ({ vaccineId, vaccineName: names.get(vaccineId), ...count }))
        .sort(byNameThenId);
    },
  };
}

async function vaccineNames(em: EntityManager, vaccineIds: readonly string[]): Promise<Map<string, string>> {
  if (vaccineIds.length === 0) return new Map();
  const found = await execute<{ vaccine_id: string; name: string }>(
    em,
    `select vaccine_id, name from ${table("vaccine")} where vaccine_id = any($1::uuid[])`,
    [vaccineIds],
  );
  return new Map(found.map((row) => [row.vaccine_id, row.name]));
}

/** Named vaccines first, by name; then by id. */
function byNameThenId(a: VaccineCount, b: VaccineCount): number {
  if (a.vaccineName !== b.vaccineName) {
    if (a.vaccineName === undefined) return 1;
    if (b.vaccineName === undefined) return -1;
    return a.vaccineName < b.vaccineName ? -1 : 1;
  }
  return a.vaccineId < b.vaccineId ? -1 : a.vaccineId > b.vaccineId ? 1 : 0;
}
