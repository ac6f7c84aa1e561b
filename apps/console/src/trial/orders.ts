import { OrderState } from "@hexa/proto/trial/dashboard/v1/dashboard_pb";
import { useEffect, useState } from "react";

export const PAGE_SIZE = 20;

/** An order still on its way: its status will change again. */
export function isOpen(state: OrderState): boolean {
  return [
    OrderState.PLACED,
    OrderState.DELIVERING,
    OrderState.DELIVERED,
    OrderState.RETURN_REQUESTED,
  ].includes(state);
}

/** The page tokens that led to the current page; the first page has none. */
export type PageTrail = readonly string[];

export const nextPage = (trail: PageTrail, token: string): PageTrail => (token ? [...trail, token] : trail);
export const previousPage = (trail: PageTrail): PageTrail => trail.slice(0, -1);

/** Paging through a list whose filter is `filterKey`: a new filter starts again at page 1. */
export function usePages(filterKey: string) {
  const [trail, setTrail] = useState<PageTrail>([]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a changed filter resets the trail
  useEffect(() => setTrail([]), [filterKey]);
  return {
    token: trail.at(-1) ?? "",
    number: trail.length + 1,
    next: (token: string) => setTrail((current) => nextPage(current, token)),
    previous: () => setTrail(previousPage),
  };
}
