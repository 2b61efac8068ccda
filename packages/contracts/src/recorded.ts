/**
 * When the earliest of these case events was recorded (ms), the events in
 * their JSON form (`events.CaseEvent.toJSON`), as a read model keeps those
 * waiting for an earlier version; 0 for one without a recording time,
 * undefined for none.
 */
export function earliestRecordedMs(list: readonly unknown[]): number | undefined {
  let earliest: number | undefined;
  for (const x of list) {
    const recordedAt = (x as { recordedAt?: unknown } | null)?.recordedAt;
    const at = typeof recordedAt === 'string' ? Date.parse(recordedAt) : NaN;
    const ms = Number.isNaN(at) ? 0 : at;
    if (earliest === undefined || ms < earliest) earliest = ms;
  }
  return earliest;
}
