/**
 * The TypeScript examples of the READMEs, extracted as they are written, so
 * the packed-tarball test compiles and runs the docs themselves (docs that
 * stop compiling fail the build instead of rotting).
 *
 * Every ```ts block of a package README is an example, unless the line before
 * its fence is `<!-- readme-check: skip (why) -->` (API signatures, for
 * instance). Of the root README, the blocks of the quick-start sections are.
 */
import { readFileSync } from 'node:fs';

/** One code block: where it stands, and a file name for it in the scratch project. */
export interface Example {
  /** The README's path from the repository root. */
  readonly readme: string;
  /** The heading the block stands under. */
  readonly heading: string;
  /** `core-in-node-1.ts`: the package, the heading's slug, the block's rank under it. */
  readonly file: string;
  readonly code: string;
}

/** Where the examples are: every README of a published package, and the root README's quick start. */
export const README_EXAMPLES: readonly { readonly readme: string; readonly prefix: string; readonly headings?: readonly string[] }[] = [
  { readme: 'README.md', prefix: 'root', headings: ['In a page', 'In Node', 'With Express (or any `http.Server`)'] },
  { readme: 'packages/core/README.md', prefix: 'core' },
  { readme: 'packages/server/README.md', prefix: 'server' },
  { readme: 'packages/elements/README.md', prefix: 'elements' },
  { readme: 'packages/redis/README.md', prefix: 'redis' },
];

const SKIP = /^<!--\s*readme-check:\s*skip\b/;

const slug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** The ```ts blocks of one README (under `headings` only, when given), in order. */
export function extractExamples(root: string, readme: string, prefix: string, headings?: readonly string[]): Example[] {
  const lines = readFileSync(new URL(readme, root), 'utf8').split('\n');
  const examples: Example[] = [];
  const perHeading = new Map<string, number>();
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const title = /^#{1,6}\s+(.*)$/.exec(line)?.[1];
    if (title !== undefined) heading = title.trim();
    if (!line.startsWith('```ts')) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end === -1) throw new Error(`${readme}:${i + 1}: a code block without its closing fence`);
    const skipped = SKIP.test(lines[i - 1] ?? '');
    if (!skipped && (headings === undefined || headings.includes(heading))) {
      const rank = (perHeading.get(heading) ?? 0) + 1;
      perHeading.set(heading, rank);
      examples.push({ readme, heading, file: `${prefix}-${slug(heading)}-${rank}.ts`, code: lines.slice(i + 1, end).join('\n') + '\n' });
    }
    i = end;
  }
  return examples;
}

/** Every example of {@link README_EXAMPLES}. */
export function readmeExamples(root: string): Example[] {
  return README_EXAMPLES.flatMap(({ readme, prefix, headings }) => extractExamples(root, readme, prefix, headings));
}

/**
 * What the examples leave to the app (the objects of a real page or server:
 * a banner, a user store, a logger), declared so that they compile.
 */
export const APP_DECLARATIONS = `import type { ConnectionStatus, JsonValue } from '@rxmux/core';

declare global {
  interface User { readonly id: string; readonly team: string; readonly tokenExpiresAt: number }
  /** Some other WebSocket library, for the adapter example. */
  interface SomeWebSocket {
    send(data: string | Uint8Array, binary: boolean): void;
    readonly bufferedAmount: number;
    close(code: number, reason: string): void;
    terminate(): void;
    ping(): void;
    pauseReading(): void;
    resumeReading(): void;
    /** The subprotocol the handshake selected. */
    readonly protocol: string;
    onMessage(listener: (data: string | Uint8Array) => void): void;
    onPong(listener: () => void): void;
    onClose(listener: (code: number, reason: string) => void): void;
  }
  const banner: { show(status: ConnectionStatus): void };
  function render(value: unknown): void;
  const pcmChunk: Uint8Array;
  const users: { byToken(token: string | undefined): Promise<User | undefined> };
  const log: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
  const stats: { for(channel: string, data: JsonValue): Promise<JsonValue> };
}
`;

/** A stand-in for Express's types, for the examples that show rxmux next to it (Express is the app's choice, not a dependency). */
export const EXPRESS_DECLARATIONS = `declare module 'express' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  interface Response extends ServerResponse { send(body: string): void }
  interface Application {
    (req: IncomingMessage, res: ServerResponse): void;
    get(path: string, handler: (req: IncomingMessage, res: Response) => void): void;
  }
  export default function express(): Application;
}
`;
