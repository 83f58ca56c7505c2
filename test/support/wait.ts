/**
 * Bounded waits for tests against real sockets: poll a condition instead of
 * sleeping a fixed time, so a loaded machine only makes a test slower, never red.
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it holds, for at most `ms`; returns whether it held. */
export async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
