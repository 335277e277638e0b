/**
 * The React hooks the assignment views share; above all `useResource`, the load,
 * error, note and busy scaffold of every view.
 */
import * as React from 'react';

import type { MuscodeClient } from '../client/client';
import type { INoticeSource } from '../events/follow';
import { describeError } from '../request';
import type { Assignment, EventNotice, Submission } from '../types';
import { useSignal } from '../ui/react';

/** False once the component has unmounted: late replies must not set its state. */
export function useAlive(): React.MutableRefObject<boolean> {
  const alive = React.useRef(true);
  React.useEffect(
    () => () => {
      alive.current = false;
    },
    []
  );
  return alive;
}

/** Call `reload` when a submission of the assignment is made or graded. */
export function useSubmissionNotices(
  feed: INoticeSource,
  assignmentId: string,
  reload: () => Promise<unknown>
): void {
  useSignal(feed.notice, (notice: EventNotice) => {
    if (notice.type === 'submission' && notice.assignment_id === assignmentId) {
      void reload();
    }
  });
}

/** What a view loads from the server, and what it shows about it and its actions. */
export interface IResource<T> {
  /** The value last loaded (or set); null before the first load succeeds. */
  readonly value: T | null;
  setValue: React.Dispatch<React.SetStateAction<T | null>>;
  /** What went wrong last (loading or an action), shown in the view's error box. */
  readonly error: string | null;
  setError: (message: string | null) => void;
  /** A short report of what just happened, shown in the view's note. */
  readonly note: string;
  setNote: (text: string) => void;
  /** The action under way (the `busy` given to `act`), or null. */
  readonly busy: string | null;
  /** False once the view has unmounted: late replies must not set its state. */
  readonly alive: React.MutableRefObject<boolean>;
  /** Load again: the value, or the error. Resolves with the value (null on failure). */
  reload: () => Promise<T | null>;
  /** Show what `err` says in the error box (unless the view is gone). */
  fail: (err: unknown) => void;
  /**
   * Run an action: `busy` meanwhile, the note cleared before it, the error cleared
   * after it succeeds, or set (to `failed(err)`, if given) when it fails.
   */
  act: (
    job: () => Promise<void>,
    options?: { busy?: string; failed?: (err: unknown) => string }
  ) => Promise<void>;
}

/**
 * The scaffold of a view that shows something of the server: `fetch` runs now and
 * whenever `deps` change (then `loaded` gets what it brought), and again on `reload`;
 * its value, its error, the view's note and its busy action are the view's state.
 */
export function useResource<T>(
  fetch: () => Promise<T>,
  deps: React.DependencyList,
  loaded?: (value: T) => void
): IResource<T> {
  const [value, setValue] = React.useState<T | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [note, setNote] = React.useState('');
  const [busy, setBusy] = React.useState<string | null>(null);
  const alive = useAlive();
  const onLoaded = React.useRef(loaded);
  onLoaded.current = loaded;

  const fail = React.useCallback((err: unknown) => {
    if (alive.current) {
      setError(describeError(err));
    }
  }, []);

  const reload = React.useCallback(async (): Promise<T | null> => {
    try {
      const fetched = await fetch();
      if (alive.current) {
        setValue(fetched);
        setError(null);
      }
      return fetched;
    } catch (err) {
      fail(err);
      return null;
    }
  }, deps);

  React.useEffect(() => {
    void reload().then(fetched => {
      if (fetched !== null && alive.current) {
        onLoaded.current?.(fetched);
      }
    });
  }, [reload]);

  const act = async (
    job: () => Promise<void>,
    options: { busy?: string; failed?: (err: unknown) => string } = {}
  ): Promise<void> => {
    setBusy(options.busy ?? 'busy');
    setNote('');
    try {
      await job();
      setError(null);
    } catch (err) {
      const message = options.failed ? options.failed(err) : describeError(err);
      if (alive.current) {
        setError(message);
      }
    } finally {
      if (alive.current) {
        setBusy(null);
      }
    }
  };

  return { value, setValue, error, setError, note, setNote, busy, alive, reload, fail, act };
}

/** An assignment and its submissions, fetched together. */
export function fetchWithSubmissions(
  client: MuscodeClient,
  assignmentId: string
): Promise<[Assignment, Submission[]]> {
  return Promise.all([client.getAssignment(assignmentId), client.listSubmissions(assignmentId)]);
}
