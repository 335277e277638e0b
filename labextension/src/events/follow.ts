/**
 * Waiting on something the server finishes later (a submission to be graded, a
 * regrade, a check): `follow()` reacts to matching notices of the event feed while it
 * is live, and polls the server only while it is not.
 */
import { ISignal } from '@lumino/signaling';

import type { EventNotice } from '../types';

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
