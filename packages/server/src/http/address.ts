/**
 * Who a request comes from, for the caps per address and the throttle of
 * failed authentications: the peer's IP address, an IPv6 address by its
 * /64 prefix (one subscriber line holds a whole /64), or what the app's
 * `clientAddress` says (behind a reverse proxy: the client it forwards for).
 */
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

/** Reads the client address of a request; `undefined`: unknown, not counted. */
export type ClientAddress = (request: IncomingMessage) => string | undefined;

/**
 * The default {@link ClientAddress}: the socket's remote address, an
 * IPv4-mapped IPv6 address as IPv4, other IPv6 addresses by their /64
 * prefix (`2001:db8:1:2::/64`).
 */
export const peerAddress: ClientAddress = (request) => addressKey(request.socket.remoteAddress);

/** An IP address as the key it is counted under (see {@link peerAddress}). */
export function addressKey(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1];
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
