/**
 * Waits for every write, then fails with the first failure: no write of a
 * failed flush is still on its way when the retry reads what landed.
 */
export async function settled(writes: readonly Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
