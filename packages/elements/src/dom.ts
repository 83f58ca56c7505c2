/**
 * `HTMLElement`, or a stand-in where there is none (Node without a DOM: SSR,
 * a test that only imports), so importing the package never throws; the
 * elements only work where the real one exists. Not exported by the package,
 * yet kept in the published types: the element classes extend it, so
 * their declarations need it.
 */
export const HTMLElementBase: typeof HTMLElement =
  (globalThis as { HTMLElement?: typeof HTMLElement }).HTMLElement ?? (Object as unknown as typeof HTMLElement);

/**
 * Reports an error the way the platform reports one thrown by an event
 * listener (`reportError`: the window's `error` event, the console) without
 * stopping the caller, which goes on with its other consumers.
 * @internal
 */
export function reportError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (report !== undefined) report(error);
  else
    queueMicrotask(() => {
      throw error;
    });
}
