/**
 * The caller's notices from `GET /events` (a websocket).
 *
 * One `EventFeed` per lab: it keeps the websocket open, reconnects with a growing
 * delay, and says whether it is live.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { MuscodeClient } from '../client/client';
import { closeQuietly, parseObject } from '../client/websocket';
import type { EventNotice, ExecutionStatus, SubmissionStatus, Verdict } from '../types';

/** Read one notice of `GET /events`; null for anything else. */
export function parseNotice(raw: string): EventNotice | null {
  const m = parseObject(raw);
  if (m === null) {
    return null;
  }
  const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  switch (m.type) {
    case 'submission':
      if (typeof m.id !== 'string' || typeof m.assignment_id !== 'string') {
        return null;
      }
      return {
        type: 'submission',
        id: m.id,
        assignment_id: m.assignment_id,
        status: (m.status === 'grading' ? 'grading' : 'graded') as SubmissionStatus,
        score: num(m.score) ? m.score : null
      };
    case 'regrade':
      if (typeof m.assignment_id !== 'string' || !num(m.total) || !num(m.pending)) {
        return null;
      }
      return {
        type: 'regrade',
        assignment_id: m.assignment_id,
        total: m.total,
        pending: m.pending,
        stale: num(m.stale) ? m.stale : 0
      };
    case 'execution':
      if (typeof m.id !== 'string' || typeof m.status !== 'string') {
        return null;
      }
      return {
        type: 'execution',
        id: m.id,
        status: m.status as ExecutionStatus,
        verdict: (typeof m.verdict === 'string' ? m.verdict : null) as Verdict,
        language: typeof m.language === 'string' ? m.language : '',
        project_id: typeof m.project_id === 'string' ? m.project_id : null
      };
    default:
      return null;
  }
}

/** Where the feed's websocket is. */
export type FeedState = 'off' | 'connecting' | 'live' | 'down';

export interface IEventFeedOptions {
  /** The current API client (it changes with the server URL setting). */
  client: () => MuscodeClient;
  /** First delay before reconnecting, in ms (doubles up to `maxRetryDelay`). */
  retryDelay?: number;
  maxRetryDelay?: number;
  /** Wait at most this long (ms) for the websocket to open. */
  connectTimeout?: number;
}

export class EventFeed implements IDisposable {
  constructor(options: IEventFeedOptions) {
    this._options = options;
  }

  /** Every notice, as it arrives. */
  get notice(): ISignal<this, EventNotice> {
    return this._notice;
  }

  get stateChanged(): ISignal<this, FeedState> {
    return this._stateChanged;
  }

  get state(): FeedState {
    return this._state;
  }

  /** Notices arrive: waiting needs no polling. */
  get live(): boolean {
    return this._state === 'live';
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Open (or reopen, after a server change) the websocket. */
  start(): void {
    if (this._disposed) {
      return;
    }
    this.stop();
    this._wanted = true;
    this._delay = this._options.retryDelay ?? 1000;
    this.connect();
  }

  /** Close the websocket and stop reconnecting. */
  stop(): void {
    this._wanted = false;
    clearTimeout(this._retry);
    clearTimeout(this._timeout);
    closeQuietly(this._socket);
    this._socket = null;
    this.setState('off');
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this.stop();
    this._disposed = true;
    Signal.clearData(this);
  }

  private connect(): void {
    const client = this._options.client();
    let socket: WebSocket;
    this.setState('connecting');
    try {
      socket = client.openSocket(client.eventsUrl());
    } catch {
      this.lost();
      return;
    }
    this._socket = socket;
    this._timeout = setTimeout(() => {
      if (this._socket === socket && this._state !== 'live') {
        socket.close();
        this._socket = null;
        this.lost();
      }
    }, this._options.connectTimeout ?? 10_000);
    socket.onopen = () => {
      clearTimeout(this._timeout);
      this._delay = this._options.retryDelay ?? 1000;
      this.setState('live');
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') {
        return;
      }
      const notice = parseNotice(event.data);
      if (notice) {
        this._notice.emit(notice);
      }
    };
    socket.onclose = () => {
      clearTimeout(this._timeout);
      if (this._socket === socket) {
        this._socket = null;
        this.lost();
      }
    };
    socket.onerror = () => {
      // onclose follows and decides
    };
  }

  private lost(): void {
    this.setState('down');
    if (!this._wanted || this._disposed) {
      return;
    }
    const delay = this._delay;
    this._delay = Math.min(this._options.maxRetryDelay ?? 30_000, delay * 2);
    this._retry = setTimeout(() => {
      if (this._wanted && !this._disposed) {
        this.connect();
      }
    }, delay);
  }

  private setState(state: FeedState): void {
    if (this._state !== state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _options: IEventFeedOptions;
  private _notice = new Signal<this, EventNotice>(this);
  private _stateChanged = new Signal<this, FeedState>(this);
  private _state: FeedState = 'off';
  private _socket: WebSocket | null = null;
  private _wanted = false;
  private _delay = 1000;
  private _retry: ReturnType<typeof setTimeout> | undefined;
  private _timeout: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
}
