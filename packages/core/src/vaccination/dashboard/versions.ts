/**
 * Which of two states of one thing is the newer: the later time wins, and between two states of the
 * same time, the one told by the greater event id (UUIDv7 ids grow with creation time). Every
 * replica and every arrival order picks the same one.
 */
export interface Version {
  readonly at: Date;
  readonly eventId: string;
}

/** True when `candidate` is newer than `known`; false for the same version seen again. */
export function isNewer(candidate: Version, known: Version): boolean {
  const byTime = candidate.at.getTime() - known.at.getTime();
  return byTime > 0 || (byTime === 0 && candidate.eventId > known.eventId);
}
