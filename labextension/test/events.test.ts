import { Signal } from '@lumino/signaling';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { MuscodeClient } from '../src/client/client';
import { EventFeed, parseNotice } from '../src/events/feed';
import { follow, INoticeSource } from '../src/events/follow';
import type { EventNotice, GradingProgress } from '../src/types';
import { FakeServer } from './fakeserver';

/** A websocket the test drives from the server's side. */
class FakeSocket {
  static all: FakeSocket[] = [];
  static failing = 0;
  closed = false;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    const fail = FakeSocket.failing > 0;
    if (fail) {
      FakeSocket.failing -= 1;
    }
    setTimeout(() => {
      if (fail) {
        this.onerror?.(new Event('error'));
        this.onclose?.({ code: 1006 } as CloseEvent);
      } else {
        this.onopen?.(new Event('open'));
      }
    }, 0);
  }

  send(): void {}

  close(): void {
    this.closed = true;
  }

  emit(message: unknown): void {
    this.onmessage?.({
      data: typeof message === 'string' ? message : JSON.stringify(message)
    } as MessageEvent);
  }

  serverClose(): void {
    this.onclose?.({ code: 1000 } as CloseEvent);
  }
}

afterEach(() => {
  FakeSocket.all = [];
  FakeSocket.failing = 0;
  vi.useRealTimers();
});

function feedFor(retryDelay = 10) {
  const server = new FakeServer();
  const client = new MuscodeClient(
    server.settings({ WebSocket: FakeSocket as unknown as typeof WebSocket })
  );
  return new EventFeed({ client: () => client, retryDelay, maxRetryDelay: 40 });
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

describe('parseNotice', () => {
  it('reads submission, regrade and execution notices', () => {
    expect(
      parseNotice(
        '{"type":"submission","id":"s1","assignment_id":"a1","status":"graded","score":2}'
      )
    ).toEqual({ type: 'submission', id: 's1', assignment_id: 'a1', status: 'graded', score: 2 });
    expect(parseNotice('{"type":"regrade","assignment_id":"a1","total":5,"pending":2}')).toEqual({
      type: 'regrade',
      assignment_id: 'a1',
      total: 5,
      pending: 2,
      stale: 0
    });
    expect(
      parseNotice(
        '{"type":"execution","id":"e1","status":"done","verdict":"accepted","language":"python","project_id":"p1"}'
      )
    ).toMatchObject({ type: 'execution', id: 'e1', status: 'done', project_id: 'p1' });
  });

  it('ignores anything else', () => {
    expect(parseNotice('not json')).toBeNull();
    expect(parseNotice('[]')).toBeNull();
    expect(parseNotice('{"type":"regrade","assignment_id":"a1","total":"5"}')).toBeNull();
    expect(parseNotice('{"type":"submission","assignment_id":"a1"}')).toBeNull();
    expect(parseNotice('{"type":"file","path":"x"}')).toBeNull();
  });
});

describe('EventFeed', () => {
  it('opens /events with the token and passes notices on', async () => {
    const feed = feedFor();
    const seen: EventNotice[] = [];
    feed.notice.connect((_, n) => seen.push(n));
    feed.start();
    expect(feed.state).toBe('connecting');
    await flush();
    expect(feed.live).toBe(true);
    const ws = FakeSocket.all[0];
    expect(ws.url).toBe('ws://lab.test/base/api/muscode/v1/events?token=secret-token');
    ws.emit({ type: 'regrade', assignment_id: 'a1', total: 2, pending: 1, stale: 0 });
    ws.emit('garbage');
    expect(seen).toEqual([
      { type: 'regrade', assignment_id: 'a1', total: 2, pending: 1, stale: 0 }
    ]);
    feed.dispose();
    expect(ws.closed).toBe(true);
  });

  it('reconnects with a growing delay and says when it is down', async () => {
    vi.useFakeTimers();
    FakeSocket.failing = 2;
    const feed = feedFor(10);
    const states: string[] = [];
    feed.stateChanged.connect((_, s) => states.push(s));
    feed.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(feed.state).toBe('down');
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(feed.state).toBe('down');
    // the second retry waits twice as long
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(feed.live).toBe(true);
    // a live socket the server closes is reopened too
    FakeSocket.all[2].serverClose();
    expect(feed.state).toBe('down');
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(feed.live).toBe(true);
    expect(states).toEqual([
      'connecting',
      'down',
      'connecting',
      'down',
      'connecting',
      'live',
      'down',
      'connecting',
      'live'
    ]);
    feed.stop();
    expect(feed.state).toBe('off');
    await vi.advanceTimersByTimeAsync(100);
    expect(FakeSocket.all).toHaveLength(4);
  });
});

class StubFeed implements INoticeSource {
  constructor(public live: boolean) {}
  readonly notice = new Signal<this, EventNotice>(this);
}

describe('follow', () => {
  it('waits for notices while the feed is live, without polling', async () => {
    vi.useFakeTimers();
    const feed = new StubFeed(true);
    const states: GradingProgress[] = [
      { total: 3, pending: 3, stale: 0 },
      { total: 3, pending: 1, stale: 0 },
      { total: 3, pending: 0, stale: 0 }
    ];
    const fetch = vi.fn(async () => states.shift()!);
    const notices: EventNotice[] = [];
    const done = follow<GradingProgress>({
      feed,
      matches: n => n.type === 'regrade' && n.assignment_id === 'a1',
      onNotice: n => notices.push(n),
      fetch,
      done: p => p.pending === 0,
      pollInterval: 100,
      quietInterval: 60_000
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1); // once at once
    await vi.advanceTimersByTimeAsync(1000);
    expect(fetch).toHaveBeenCalledTimes(1); // no polling while live
    feed.notice.emit({ type: 'regrade', assignment_id: 'other', total: 1, pending: 0, stale: 0 });
    feed.notice.emit({ type: 'regrade', assignment_id: 'a1', total: 3, pending: 1, stale: 0 });
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(2);
    feed.notice.emit({ type: 'regrade', assignment_id: 'a1', total: 3, pending: 0, stale: 0 });
    await expect(done).resolves.toEqual({ total: 3, pending: 0, stale: 0 });
    expect(notices).toHaveLength(2);
  });

  it('polls while the feed is down', async () => {
    vi.useFakeTimers();
    const feed = new StubFeed(false);
    let calls = 0;
    const done = follow<string>({
      feed,
      matches: () => false,
      fetch: async () => (++calls >= 3 ? 'graded' : 'grading'),
      done: s => s === 'graded',
      pollInterval: 100
    });
    await vi.advanceTimersByTimeAsync(250);
    await expect(done).resolves.toBe('graded');
    expect(calls).toBe(3);
  });

  it('still asks once in a while when a live feed stays quiet', async () => {
    vi.useFakeTimers();
    const feed = new StubFeed(true);
    let calls = 0;
    const done = follow<number>({
      feed,
      matches: () => false,
      fetch: async () => ++calls,
      done: n => n >= 2,
      pollInterval: 100,
      quietInterval: 1000
    });
    await vi.advanceTimersByTimeAsync(900);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    await expect(done).resolves.toBe(2);
  });

  it('stops when aborted and passes fetch errors on', async () => {
    const feed = new StubFeed(true);
    const controller = new AbortController();
    const aborted = follow<number>({
      feed,
      matches: () => true,
      fetch: async () => 1,
      done: () => false,
      signal: controller.signal
    });
    controller.abort();
    await expect(aborted).resolves.toBeNull();
    const failing = follow<number>({
      feed,
      matches: () => true,
      fetch: async () => {
        throw new Error('gone');
      },
      done: () => false
    });
    await expect(failing).rejects.toThrow('gone');
  });
});
