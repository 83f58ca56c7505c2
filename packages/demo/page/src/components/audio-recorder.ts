import { ChannelController, ConnectionController } from '@rxmux/elements';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { BehaviorSubject, catchError, interval, map, Observable, switchMap, tap } from 'rxjs';
import { cardCss } from './card';

/** 16 kHz mono 16-bit PCM in 100 ms chunks: 3 200 bytes each. */
const SAMPLE_RATE = 16_000;
const CHUNK_MS = 100;
const CHUNK_SAMPLES = (SAMPLE_RATE * CHUNK_MS) / 1000;

type Source = 'tone' | 'mic';

interface AudioAck {
  readonly bytes: number;
  readonly chunks: number;
}

/** A synthetic source for headless runs and machines without a microphone: a 440 Hz tone with a slow swell. */
function toneChunks(): Observable<Int16Array> {
  return interval(CHUNK_MS).pipe(
    map((n) => {
      const pcm = new Int16Array(CHUNK_SAMPLES);
      for (let i = 0; i < CHUNK_SAMPLES; i++) {
        const t = (n * CHUNK_SAMPLES + i) / SAMPLE_RATE;
        const swell = 0.35 + 0.3 * Math.sin(2 * Math.PI * 0.25 * t);
        pcm[i] = Math.round(32767 * swell * Math.sin(2 * Math.PI * (440 + 20 * Math.sin(2 * Math.PI * 3 * t)) * t));
      }
      return pcm;
    }),
  );
}

/** Collects ~100 ms of mono float samples per message (an AudioWorklet, loaded from a Blob URL). */
const TAP_WORKLET = `
class PcmTap extends AudioWorkletProcessor {
  constructor() { super(); this.parts = []; this.length = 0; }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      this.parts.push(channel.slice());
      this.length += channel.length;
      if (this.length >= sampleRate / 10) {
        const out = new Float32Array(this.length);
        let offset = 0;
        for (const part of this.parts) { out.set(part, offset); offset += part.length; }
        this.port.postMessage(out, [out.buffer]);
        this.parts = []; this.length = 0;
      }
    }
    return true;
  }
}
registerProcessor('pcm-tap', PcmTap);
`;

/** Float samples at `rate` to 16 kHz 16-bit PCM (nearest-sample decimation: fine for a demo). */
function toPcm16(samples: Float32Array, rate: number): Int16Array {
  const ratio = rate / SAMPLE_RATE;
  const out = new Int16Array(Math.floor(samples.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[Math.floor(i * ratio)] ?? 0));
    out[i] = Math.round(v * 32767);
  }
  return out;
}

/** The microphone as PCM chunks; errors when the page may not use it. Releases the device on unsubscribe. */
function micChunks(): Observable<Int16Array> {
  return new Observable<Int16Array>((subscriber) => {
    let stream: MediaStream | undefined;
    let context: AudioContext | undefined;
    // Read through a call: unsubscribing can happen during any await below.
    const stopped = (): boolean => subscriber.closed;
    (async () => {
      // Undefined outside a secure context, whatever the DOM types say.
      const devices = navigator.mediaDevices as MediaDevices | undefined;
      if (devices === undefined) throw new Error('no microphone API on this page (needs https or localhost)');
      const media = await devices.getUserMedia({ audio: true });
      stream = media;
      if (stopped()) return;
      context = new AudioContext();
      const url = URL.createObjectURL(new Blob([TAP_WORKLET], { type: 'text/javascript' }));
      try {
        await context.audioWorklet.addModule(url);
      } finally {
        URL.revokeObjectURL(url);
      }
      if (stopped()) return;
      const rate = context.sampleRate;
      const tap = new AudioWorkletNode(context, 'pcm-tap');
      tap.port.onmessage = (event: MessageEvent<Float32Array>) => subscriber.next(toPcm16(event.data, rate));
      context.createMediaStreamSource(media).connect(tap);
      tap.connect(context.destination); // pulls the graph; the tap writes no output, so this is silent
      await context.resume();
    })().catch((error: unknown) => subscriber.error(error));
    return () => {
      for (const track of stream?.getTracks() ?? []) track.stop();
      void context?.close();
    };
  });
}

function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const v of pcm) sum += v * v;
  return Math.sqrt(sum / Math.max(1, pcm.length)) / 32768;
}

/**
 * `<audio-recorder>`: streams 16 kHz PCM chunks as binary frames on its
 * channel (`audio-recorder`), from the microphone when allowed, else from a
 * synthetic tone. The server publishes the running byte count back on the
 * channel; chunks recorded while the channel is not joined (the connection
 * is down, or the server has not confirmed the join yet) are skipped (live
 * audio is not worth a backlog).
 */
export class AudioRecorder extends LitElement {
  static override properties = {
    channelId: { type: String, attribute: 'channel' },
    source: { state: true },
    sent: { state: true },
    acked: { state: true },
    skipped: { state: true },
    level: { state: true },
    note: { state: true },
  };

  static override styles = [
    unsafeCSS(cardCss),
    css`
      .meter { height: 8px; background: #0d141c; border-radius: 4px; overflow: hidden; margin: 8px 0; }
      .meter > div { height: 100%; background: linear-gradient(90deg, #7ee787, #f2cc60); transition: width 90ms linear; }
      dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0 0 8px; }
      dt { color: var(--muted, #9fb1c3); }
      dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
      .note { color: #f2cc60; font-size: 12px; margin-top: 6px; }
    `,
  ];

  declare channelId: string;
  declare source: Source;
  declare sent: number;
  declare acked: number;
  declare skipped: number;
  declare level: number;
  declare note: string;
  readonly #source$ = new BehaviorSubject<Source>('tone');

  constructor() {
    super();
    this.channelId = 'audio-recorder';
    this.source = 'tone';
    this.sent = 0;
    this.acked = 0;
    this.skipped = 0;
    this.level = 0;
    this.note = '';
  }

  /** The recorder's channel, joined while the element is in the document: the server's running byte count comes back on it. */
  readonly #audio = new ChannelController<Partial<AudioAck> | null>(this, () => this.channelId, {
    // Nothing checks what the server sends on the way: an acknowledgement is checked before use.
    onValue: (ack) => {
      if (typeof ack?.bytes !== 'number') return;
      this.acked = ack.bytes;
      this.dataset.acked = String(ack.bytes);
    },
    onError: () => (this.dataset.state = 'error'),
  });

  /** Records while the element is in the document with a connection, and streams what it records. */
  readonly #recording = new ConnectionController(this, {
    observe: () =>
      this.#source$.pipe(
        switchMap((source) =>
          (source === 'mic' ? micChunks() : toneChunks()).pipe(
            catchError((error: unknown) => {
              this.note = `microphone unavailable (${error instanceof Error ? error.message : String(error)}): using the synthetic tone`;
              this.source = 'tone';
              return toneChunks();
            }),
          ),
        ),
        tap((pcm) => this.#stream(pcm)),
      ),
  });

  /** Sends a chunk when the channel is joined; skips it otherwise (the connection is down, or the join not confirmed yet). */
  #stream(pcm: Int16Array): void {
    this.level = rms(pcm);
    const channel = this.#audio.channel;
    if (channel === undefined || this.#audio.state !== 'joined') {
      this.skipped += 1;
      return;
    }
    channel.sendBinary(pcm);
    this.sent += pcm.byteLength;
  }

  #toggle(): void {
    this.source = this.source === 'tone' ? 'mic' : 'tone';
    this.note = '';
    this.#source$.next(this.source);
  }

  protected override render(): unknown {
    return html`
      <h2><span>Audio recorder</span><code>${this.channelId}</code></h2>
      <div class="meter" aria-label="input level"><div style="width:${Math.min(100, Math.round(this.level * 160))}%"></div></div>
      <dl>
        <dt>source</dt><dd>${this.source === 'tone' ? 'synthetic tone (440 Hz)' : 'microphone'}</dd>
        <dt>sent (binary frames)</dt><dd>${(this.sent / 1024).toFixed(0)} KiB</dd>
        <dt>received by the server (this session)</dt><dd data-testid="audio-acked">${(this.acked / 1024).toFixed(0)} KiB</dd>
        <dt>skipped while offline</dt><dd>${this.skipped} chunks${this.#recording.connection === undefined ? ' (no connection)' : ''}</dd>
      </dl>
      <button @click=${() => this.#toggle()}>${this.source === 'tone' ? 'Use microphone' : 'Use synthetic tone'}</button>
      ${this.note ? html`<div class="note">${this.note}</div>` : ''}
    `;
  }
}

if (!customElements.get('audio-recorder')) customElements.define('audio-recorder', AudioRecorder);

declare global {
  interface HTMLElementTagNameMap {
    'audio-recorder': AudioRecorder;
  }
}
