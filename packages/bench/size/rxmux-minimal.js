// Bundle-size entry (npm run size, npm run bench -- --scenario bundle): a page that joins one channel.
import { connect } from '@rxmux/core';

connect('wss://example.com/rt').channel('a').subscribe((value) => console.log(value));
