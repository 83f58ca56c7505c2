// Bundle-size entry: one channel and one server-sent channel (the SSE / long-poll code comes with events()).
import { connect } from '@rxmux/core';
import { events } from '@rxmux/core/events';

const conn = connect('wss://example.com/rt');
conn.channel('a').subscribe((value) => console.log(value));
events(conn, 'b').subscribe((value) => console.log(value));
