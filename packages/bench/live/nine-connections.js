// The demo's nine channels with one connection each (the seed article's "before"): six WebSockets
// (`connect(url, { shared: false })` per channel) and three EventSources (one per `events()` channel,
// each on a connection of its own). Bundled by `npm run bench -- --scenario live` and served in place
// of a page of the demo's origin; same server, same channels, same client library.
import { connect } from '@rxmux/core';
import { events } from '@rxmux/core/events';

const url = new URL('/rt', location.href);
url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
for (const id of ['audio-recorder', 'manual-input', 'player-1', 'player-2', 'player-3', 'player-4']) {
  connect(url.href, { shared: false }).channel(id).subscribe();
}
for (const id of ['match-score', 'match-dashboard', 'match-highlights']) {
  events(connect(url.href, { shared: false }), id).subscribe();
}
