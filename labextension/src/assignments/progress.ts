/**
 * A student's progress in an assignment, read from their submissions themselves, so
 * that the status line, the best score and the latest attempt always agree (an
 * override or a regrade changes them all at once).
 */
import type { Assignment, Submission } from '../types';

export interface IMyProgress {
  /** Attempts made: the submissions known, or what the assignment says if more. */
  attempts: number;
  /** The newest submission, or null. */
  latest: Submission | null;
  /** The graded submission with the highest score (the newer of equals), or null. */
  best: Submission | null;
  /** The newest submission is being graded (again). */
  grading: boolean;
}

/** Progress from the submissions (any order); `a.my` only fills in what they lack. */
export function myProgress(a: Assignment, submissions: ReadonlyArray<Submission>): IMyProgress {
  const newestFirst = [...submissions].sort((x, y) => y.attempt - x.attempt);
  const latest = newestFirst[0] ?? null;
  let best: Submission | null = null;
  for (const s of newestFirst) {
    if (
      s.status === 'graded' &&
      s.score !== null &&
      (best === null || s.score > (best.score ?? 0))
    ) {
      best = s;
    }
  }
  return {
    attempts: Math.max(a.my.attempts, submissions.length),
    latest,
    best,
    grading: latest?.status === 'grading'
  };
}
