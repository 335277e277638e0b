/**
 * The caller's notices from `GET /events` (a websocket), and waiting on them.
 *
 * One `EventFeed` per lab: it keeps the websocket open, reconnects with a growing
 * delay, and says whether it is live. Views that wait for something (a submission to
 * be graded, a regrade to finish) use `follow()`: it reacts to matching notices while
 * the feed is live, and polls the server only while it is not.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { MuscodeClient } from './request';
import { closeQuietly, parseObject } from './wsutil';
import type { EventNotice, ExecutionStatus, SubmissionStatus, Verdict } from './types';

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
        pending: m.pending
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

/** What `follow()` needs of a feed (an `EventFeed`, or a stand-in in tests). */
export interface INoticeSource {
  readonly live: boolean;
  readonly notice: ISignal<unknown, EventNotice>;
}

export interface IFollowOptions<T> {
  feed: INoticeSource;
  /** Whether a notice is about the thing followed. */
  matches: (notice: EventNotice) => boolean;
  /** Fetch the thing's current state. */
  fetch: () => Promise<T>;
  /** Whether that state is final. */
  done: (value: T) => boolean;
  /** Each state seen, final included. */
  onUpdate?: (value: T) => void;
  /** Each matching notice (e.g. to show progress it carries). */
  onNotice?: (notice: EventNotice) => void;
  /** Poll interval while the feed is not live (ms). */
  pollInterval?: number;
  /**
   * While the feed is live, still fetch after this long without a matching notice
   * (ms): a notice sent while the websocket was reconnecting is not lost for good.
   */
  quietInterval?: number;
  /** Give up after this long (ms). */
  timeout?: number;
  /** Stop following (resolves with null). */
  signal?: AbortSignal;
}

/**
 * Follow something until `done`: fetch once at once (a notice may have come before
 * the caller listened), then on every matching notice; poll only while the feed is
 * not live. Resolves with the final state, or null when aborted or out of time.
 */
export function follow<T>(options: IFollowOptions<T>): Promise<T | null> {
  const { feed } = options;
  const pollInterval = options.pollInterval ?? 2000;
  const quietInterval = options.quietInterval ?? 30_000;
  const deadline = Date.now() + (options.timeout ?? 15 * 60 * 1000);
  return new Promise<T | null>((resolve, reject) => {
    let finished = false;
    let fetching: Promise<void> | null = null;
    let again = false;
    let lastHeard = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;

    const finish = (value: T | null, error?: unknown) => {
      if (finished) {
        return;
      }
      finished = true;
      clearTimeout(timer);
      feed.notice.disconnect(onNotice);
      options.signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) {
        reject(error);
      } else {
        resolve(value);
      }
    };
    const check = (): Promise<void> => {
      if (fetching) {
        // a notice came during a fetch: fetch once more afterwards
        again = true;
        return fetching;
      }
      fetching = (async () => {
        try {
          do {
            again = false;
            const value = await options.fetch();
            if (finished) {
              return;
            }
            options.onUpdate?.(value);
            if (options.done(value)) {
              finish(value);
              return;
            }
          } while (again && !finished);
        } catch (err) {
          finish(null, err);
        } finally {
          fetching = null;
        }
      })();
      return fetching;
    };
    const onNotice = (_: unknown, notice: EventNotice) => {
      if (!finished && options.matches(notice)) {
        lastHeard = Date.now();
        options.onNotice?.(notice);
        void check();
      }
    };
    const onAbort = () => finish(null);
    const tick = () => {
      timer = setTimeout(() => {
        if (finished) {
          return;
        }
        if (Date.now() > deadline) {
          finish(null);
          return;
        }
        const quiet = Date.now() - lastHeard >= quietInterval;
        if (!feed.live || quiet) {
          lastHeard = Date.now();
          void check().then(() => !finished && tick());
        } else {
          tick();
        }
      }, pollInterval);
    };

    if (options.signal?.aborted) {
      resolve(null);
      return;
    }
    options.signal?.addEventListener('abort', onAbort);
    feed.notice.connect(onNotice);
    void check().then(() => !finished && tick());
  });
}
