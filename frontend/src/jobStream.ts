// Websocket client for /ws/jobs/<id>/: snapshot + replayed/live events,
// dedupe by event id, reconnect with capped exponential backoff.
import { isTerminal } from './jobs';
import type { Job, JobEvent } from './types';

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'error';

/** The subset of the browser WebSocket the stream needs (lets tests inject a fake). */
export interface WebSocketLike {
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export interface JobStreamOptions {
  jobId: number;
  onJob?: (job: Job) => void;
  onEvent?: (event: JobEvent) => void;
  onStateChange?: (state: StreamState, detail?: string) => void;
  /** Last event id already seen (events with id > after are replayed). */
  after?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  createSocket?: WebSocketFactory;
  /** Override for tests; defaults to ws(s)://<current host>. */
  baseUrl?: string;
}

/** Close codes after which reconnecting cannot help. */
export const FATAL_CLOSE_CODES: Record<number, string> = {
  4401: 'Not logged in. Please log in again.',
  4404: 'Job not found.',
};

type ServerMessage = { type: 'job'; job: Job } | { type: 'event'; event: JobEvent };

function defaultBaseUrl(): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${window.location.host}`;
}

export class JobStream {
  private readonly opts: JobStreamOptions;
  private socket: WebSocketLike | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly seen = new Set<number>();
  private lastEventId: number;
  private failures = 0;
  private terminal = false;
  private stopped = false;

  constructor(opts: JobStreamOptions) {
    this.opts = opts;
    this.lastEventId = opts.after ?? 0;
  }

  get lastSeenEventId(): number {
    return this.lastEventId;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  /** Close the socket for good (e.g. on unmount). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.socket;
    this.socket = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      ws.close(1000, 'client closed');
    }
  }

  /** Delay before reconnect attempt number `failures` (1-based). */
  backoffDelay(failures: number): number {
    const min = this.opts.minDelayMs ?? 500;
    const max = this.opts.maxDelayMs ?? 8000;
    return Math.min(max, min * 2 ** Math.max(0, failures - 1));
  }

  private url(): string {
    const base = this.opts.baseUrl ?? defaultBaseUrl();
    return `${base}/ws/jobs/${this.opts.jobId}/?after=${this.lastEventId}`;
  }

  private setState(state: StreamState, detail?: string): void {
    if (!this.stopped) this.opts.onStateChange?.(state, detail);
  }

  private connect(): void {
    this.timer = null;
    this.setState(this.failures ? 'reconnecting' : 'connecting');
    const create = this.opts.createSocket ?? ((url: string) => new WebSocket(url));
    const ws = create(this.url());
    this.socket = ws;
    ws.onopen = () => this.setState('live');
    ws.onmessage = (ev) => this.handleMessage(ev.data);
    ws.onclose = (ev) => this.handleClose(ev.code);
  }

  private handleMessage(raw: unknown): void {
    let msg: ServerMessage;
    try {
      msg = JSON.parse(String(raw)) as ServerMessage;
    } catch {
      console.warn('JobStream: ignoring malformed message', raw);
      return;
    }
    if (msg.type === 'job') {
      this.failures = 0; // a snapshot means the connection really works
      this.noteStatus(msg.job.status);
      this.opts.onJob?.(msg.job);
    } else if (msg.type === 'event') {
      const ev = msg.event;
      if (this.seen.has(ev.id)) return;
      this.seen.add(ev.id);
      this.lastEventId = Math.max(this.lastEventId, ev.id);
      if (typeof ev.payload?.status === 'string') this.noteStatus(ev.payload.status as Job['status']);
      this.opts.onEvent?.(ev);
    }
  }

  private noteStatus(status: Job['status']): void {
    if (isTerminal(status)) this.terminal = true;
  }

  private handleClose(code: number): void {
    this.socket = null;
    if (this.stopped) return;
    const fatal = FATAL_CLOSE_CODES[code];
    if (fatal) {
      this.setState('error', fatal);
    } else if (this.terminal) {
      this.setState('closed');
    } else {
      this.failures += 1;
      const delay = this.backoffDelay(this.failures);
      this.setState('reconnecting', `retrying in ${(delay / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => this.connect(), delay);
    }
  }
}
