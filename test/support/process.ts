/**
 * Child processes in tests: wait for a line of their output (a server saying
 * where it listens) with a bound, and stop them for good.
 */
import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the first match of `pattern` in what `child` writes (stdout
 * and stderr together); rejects with the output so far when the process
 * exits first or `timeoutMs` passes.
 */
export function outputMatching(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  let output = '';
  return new Promise<RegExpExecArray>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match !== null) {
        done();
        resolve(match);
      }
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`process exited with ${String(code)} before printing ${String(pattern)}:\n${output}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Kills `child` (SIGKILL by default) and waits until it is gone; nothing to do when it already exited. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}
