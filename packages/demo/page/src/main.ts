// The counters must wrap the constructors before anything creates a socket.
import './instrument';
// Before the element is defined: <rxmux-connection> connects once, with the demo's options.
import './connection-options';
import '@rxmux/elements/define';
import './components/audio-recorder';
import './components/biometric-monitor';
import './components/connection-panel';
import './components/manual-input';
import './components/match-dashboard';
import './components/match-highlights';
import './components/match-score';
import './components/status-banner';

/** The kinds of component the toolbar can add and remove. */
const KINDS = ['audio-recorder', 'manual-input', 'biometric-monitor', 'match-score', 'match-dashboard', 'match-highlights'] as const;
type Kind = (typeof KINDS)[number];

/** The page as the reference article has it: nine components, two connections. */
const INITIAL: readonly Kind[] = [
  'audio-recorder',
  'manual-input',
  'biometric-monitor',
  'biometric-monitor',
  'biometric-monitor',
  'biometric-monitor',
  'match-score',
  'match-dashboard',
  'match-highlights',
];

function missing(selector: string): never {
  throw new Error(`index.html lacks ${selector}`);
}

const grid = document.querySelector<HTMLElement>('#components') ?? missing('#components');

function instances(kind: Kind): HTMLElement[] {
  return [...grid.querySelectorAll<HTMLElement>(kind)];
}

/** Channel id of a new instance: the first keeps the plain name, later ones get `-2`, `-3`… (players: `player-N`). */
function freeId(kind: Kind, base: string, attribute: string): string {
  const used = new Set(instances(kind).map((el) => el.getAttribute(attribute)));
  if (kind === 'biometric-monitor') {
    for (let n = 1; ; n++) if (!used.has(`player-${n}`)) return `player-${n}`;
  }
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}

function add(kind: Kind): void {
  const el = document.createElement(kind);
  if (kind === 'biometric-monitor') el.setAttribute('player', freeId(kind, 'player', 'player'));
  if (kind === 'audio-recorder' || kind === 'manual-input') el.setAttribute('channel', freeId(kind, kind, 'channel'));
  const same = instances(kind);
  const after = same.at(-1);
  if (after !== undefined) after.after(el);
  else {
    // Keep the kinds in toolbar order.
    const next = KINDS.slice(KINDS.indexOf(kind) + 1)
      .map((k) => instances(k)[0])
      .find((e) => e !== undefined);
    grid.insertBefore(el, next ?? null);
  }
  refreshCounts();
}

function remove(kind: Kind): void {
  instances(kind).at(-1)?.remove();
  refreshCounts();
}

function refreshCounts(): void {
  for (const kind of KINDS) {
    const out = document.querySelector(`[data-count="${kind}"]`);
    if (out) out.textContent = String(instances(kind).length);
  }
}

// The toolbar: one add/remove pair per kind.
const toolbar = document.querySelector<HTMLElement>('#toolbar');
for (const kind of KINDS) {
  const group = document.createElement('span');
  group.className = 'kind';
  group.innerHTML = `<span class="label">&lt;${kind}&gt;</span><output data-count="${kind}">0</output>`;
  const plus = Object.assign(document.createElement('button'), { textContent: '+', title: `add a ${kind}` });
  const minus = Object.assign(document.createElement('button'), { textContent: '−', title: `remove a ${kind}` });
  plus.dataset.testid = `add-${kind}`;
  minus.dataset.testid = `remove-${kind}`;
  plus.addEventListener('click', () => add(kind));
  minus.addEventListener('click', () => remove(kind));
  group.append(minus, plus);
  toolbar?.append(group);
}
document.querySelector('[data-testid="remove-all"]')?.addEventListener('click', () => {
  for (const kind of KINDS) for (const el of instances(kind)) el.remove();
  refreshCounts();
});
document.querySelector('[data-testid="restore"]')?.addEventListener('click', () => {
  for (const kind of KINDS) for (const el of instances(kind)) el.remove();
  for (const kind of INITIAL) add(kind);
});

// Chaos: server-side faults, so a person can watch reconnect and resume happen.
const chaosOut = document.querySelector<HTMLOutputElement>('#chaos-result');
for (const [testid, action] of [['chaos-drop', 'drop'], ['chaos-pause', 'pause'], ['chaos-resume', 'resume']] as const) {
  document.querySelector(`[data-testid="${testid}"]`)?.addEventListener('click', () => {
    fetch(`/demo/api/chaos/${action}`, { method: 'POST' })
      .then((res) => res.json() as Promise<Record<string, unknown>>)
      .then((body) => {
        if (chaosOut) chaosOut.textContent = action === 'drop' ? `dropped ${String(body.dropped)} connection(s)` : action === 'pause' ? 'streams paused' : 'streams resumed';
      })
      .catch((error: unknown) => {
        if (chaosOut) chaosOut.textContent = `chaos ${action} failed: ${String(error)}`;
      });
  });
}

// <rxmux-connection> (index.html) provides the page's one connection to every component below it, through
// the Context Protocol: no component is handed it. Its options were set in ./connection-options.
for (const kind of INITIAL) add(kind);
