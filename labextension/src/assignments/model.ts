/**
 * What the assignment views show, computed apart from React so that it is tested on
 * its own: a student's status and attempts, scores, the editor's form and its checks,
 * roster import errors, the submissions table and regrade progress.
 */
import { MuscodeAPIError } from '../request';
import type {
  Assignment,
  AssignmentCreate,
  AssignmentFormat,
  AssignmentTest,
  ClassRole,
  Compare,
  GradingProgress,
  LateMode,
  Me,
  StarterFile,
  Submission,
  SubmissionTest
} from '../types';

// -- roles ---------------------------------------------------------------------------

/** TAs, instructors and admins see the staff views of a class. */
export function isStaff(role: ClassRole | null | undefined, me: Me | null): boolean {
  return role === 'ta' || role === 'instructor' || (me?.admin ?? false);
}

/** Only instructors and admins delete assignments and take people out of a class. */
export function canDelete(role: ClassRole | null | undefined, me: Me | null): boolean {
  return role === 'instructor' || (me?.admin ?? false);
}

// -- a student's view of an assignment ---------------------------------------------

export type StudentStatus = 'not_started' | 'started' | 'submitted';

export function studentStatus(a: Assignment): StudentStatus {
  if (a.my.attempts > 0 || a.my.submitted_at !== null) {
    return 'submitted';
  }
  return a.my.project_id ? 'started' : 'not_started';
}

/** Attempts the student still has; null when there is no limit. */
export function attemptsLeft(a: Assignment): number | null {
  if (a.max_attempts === null || a.max_attempts === undefined) {
    return null;
  }
  return Math.max(0, a.max_attempts - a.my.attempts);
}

/** Whether the due date has passed at `now`. */
export function isPastDue(a: { due_at: string | null }, now: Date = new Date()): boolean {
  if (!a.due_at) {
    return false;
  }
  const due = new Date(a.due_at).getTime();
  return Number.isFinite(due) && now.getTime() > due;
}

/** A number of points as people write it: `2`, `1.5`, `0.33`. */
export function formatPoints(points: number): string {
  return String(Math.round(points * 100) / 100);
}

/**
 * A count with its noun, singular for exactly one: `plural(1, 'test', 'tests')` is
 * `1 test`, `plural(2, ...)` is `2 tests`, `plural(0, ...)` is `0 tests`. The caller
 * passes both forms, already translated.
 */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `score / max`, or '' when there is no score. */
export function scoreText(
  score: number | null | undefined,
  max: number | null | undefined
): string {
  if (score === null || score === undefined) {
    return '';
  }
  return max === null || max === undefined
    ? formatPoints(score)
    : `${formatPoints(score)} / ${formatPoints(max)}`;
}

/** The tests a student sees run by Check: the visible ones. */
export function visibleTests(a: Assignment): AssignmentTest[] {
  return a.tests.filter(t => !t.hidden);
}

/**
 * A submission's test as a student may see it: a hidden test is its name, points and
 * pass/fail only, whatever else a reply carries.
 */
export function studentTest(t: SubmissionTest): SubmissionTest {
  if (!t.hidden) {
    return t;
  }
  const shown: SubmissionTest & { notebook?: string | null } = {
    name: t.name,
    hidden: true,
    points: t.points,
    points_awarded: t.points_awarded,
    passed: t.passed
  };
  // a notebook's cell keeps the notebook it is in (an assignment of several)
  const notebook = (t as { notebook?: string | null }).notebook;
  if (notebook) {
    shown.notebook = notebook;
  }
  return shown;
}

// -- staff: submissions and grades ---------------------------------------------------

export interface IStudentSubmissions {
  student: string;
  /** Newest first. */
  submissions: Submission[];
  latest: Submission;
  best: number | null;
}

/** Submissions grouped by student (students by name), each newest first. */
export function byStudent(submissions: Submission[]): IStudentSubmissions[] {
  const groups = new Map<string, Submission[]>();
  for (const s of submissions) {
    const list = groups.get(s.student) ?? [];
    list.push(s);
    groups.set(s.student, list);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([student, list]) => {
      const sorted = [...list].sort(
        (x, y) => y.attempt - x.attempt || y.submitted_at.localeCompare(x.submitted_at)
      );
      const scores = sorted.map(s => s.score).filter((s): s is number => s !== null);
      return {
        student,
        submissions: sorted,
        latest: sorted[0],
        best: scores.length ? Math.max(...scores) : null
      };
    });
}

/** How many tests passed, as `2/3`. */
export function passedText(s: Submission): string {
  return `${s.tests.filter(t => t.passed).length}/${s.tests.length}`;
}

export interface IProgress {
  total: number;
  done: number;
  /** 0 to 1. */
  fraction: number;
  finished: boolean;
}

export function progressOf(p: GradingProgress): IProgress {
  const total = Math.max(0, p.total);
  const done = Math.min(total, Math.max(0, total - p.pending));
  return {
    total,
    done,
    fraction: total === 0 ? 1 : done / total,
    finished: p.pending <= 0
  };
}

/** A file name for a grades download: `grades-cs101-echo.csv`. */
export function csvFileName(...parts: string[]): string {
  const slug = parts
    .map(p =>
      p
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '')
    )
    .filter(Boolean)
    .join('-');
  return `grades${slug ? `-${slug}` : ''}.csv`;
}

// -- roster import -------------------------------------------------------------------

export interface ILineError {
  /** 1-based line of the CSV, or null for a problem of the whole file. */
  line: number | null;
  message: string;
}

/**
 * The bad lines of a refused roster import (the server names them `field: "line N"`),
 * in line order.
 */
export function rosterErrors(err: unknown): ILineError[] {
  if (!(err instanceof MuscodeAPIError)) {
    return [{ line: null, message: err instanceof Error ? err.message : String(err) }];
  }
  if (!err.errors.length) {
    return [{ line: null, message: err.message }];
  }
  return err.errors
    .map(e => {
      const m = /^line\s+(\d+)$/i.exec(e.field.trim());
      return {
        line: m ? Number(m[1]) : null,
        message: m ? e.message : `${e.field}: ${e.message}`
      };
    })
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

// -- the assignment editor -----------------------------------------------------------

export interface ITestForm {
  name: string;
  stdin: string;
  expected_output: string;
  points: string;
  hidden: boolean;
  compare: Compare;
  /** Only with `compare: 'numbers'`; '' for the server's default. */
  tolerance: string;
}

/** The output comparisons, in the order the editor offers them (the default first). */
export const COMPARES: readonly Compare[] = [
  'trailing_whitespace',
  'exact',
  'all_whitespace',
  'case',
  'numbers'
];

export interface IAssignmentForm {
  title: string;
  description: string;
  language: string;
  /** `YYYY-MM-DDTHH:MM` in local time (an `<input type="datetime-local">`), or ''. */
  due: string;
  lateMode: LateMode;
  penaltyPerDay: string;
  /** '' for no limit. */
  maxAttempts: string;
  published: boolean;
  /** `nbgrader`: the starter files hold a source notebook whose graded cells are the tests. */
  format: AssignmentFormat;
  starterFiles: StarterFile[];
  /** The reference solution (staff only). */
  referenceFiles: StarterFile[];
  tests: ITestForm[];
}

/** An ISO date as the value of a `datetime-local` input, in local time. */
export function toLocalInput(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) {
    return '';
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

/** The value of a `datetime-local` input (local time) as an ISO date, or null. */
export function fromLocalInput(value: string): string | null {
  if (!value.trim()) {
    return null;
  }
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function emptyTest(index: number): ITestForm {
  return {
    name: `test ${index}`,
    stdin: '',
    expected_output: '',
    points: '1',
    hidden: false,
    compare: 'trailing_whitespace',
    tolerance: ''
  };
}

export function emptyForm(language: string): IAssignmentForm {
  return {
    title: '',
    description: '',
    language,
    due: '',
    lateMode: 'accept',
    penaltyPerDay: '10',
    maxAttempts: '',
    published: false,
    format: 'files',
    starterFiles: [],
    referenceFiles: [],
    tests: []
  };
}

/** The editor's form for an assignment as the server has it. */
export function formOf(a: Assignment): IAssignmentForm {
  return {
    title: a.title,
    description: a.description,
    language: a.language,
    due: toLocalInput(a.due_at),
    lateMode: a.late_policy.mode,
    penaltyPerDay: String(a.late_policy.penalty_per_day ?? 10),
    maxAttempts: a.max_attempts === null ? '' : String(a.max_attempts),
    published: a.published,
    format: a.format ?? 'files',
    starterFiles: a.starter_files.map(f => ({ ...f })),
    referenceFiles: (a.reference_files ?? []).map(f => ({ ...f })),
    tests: a.tests.map(t => ({
      name: t.name,
      stdin: t.stdin ?? '',
      expected_output: t.expected_output ?? '',
      points: String(t.points ?? 1),
      hidden: t.hidden ?? false,
      compare: t.compare ?? 'trailing_whitespace',
      tolerance: t.tolerance === null || t.tolerance === undefined ? '' : String(t.tolerance)
    }))
  };
}

export interface IFieldProblem {
  /** The field as the server names it: `title`, `tests[0].points`, ... */
  field: string;
  message: string;
}

export type FormResult =
  | { ok: true; body: AssignmentCreate }
  | { ok: false; problems: IFieldProblem[] };

/**
 * Check the editor's form and turn it into a request body. `messages` are the
 * sentences shown for each problem (translated by the caller).
 */
export function bodyOf(
  form: IAssignmentForm,
  messages: {
    required: string;
    number: string;
    wholeAtLeastOne: string;
    percent: string;
    duplicate: string;
    date: string;
    tolerance: string;
  }
): FormResult {
  const problems: IFieldProblem[] = [];
  const title = form.title.trim();
  if (!title) {
    problems.push({ field: 'title', message: messages.required });
  }
  if (!form.language) {
    problems.push({ field: 'language', message: messages.required });
  }
  let dueAt: string | null = null;
  if (form.due.trim()) {
    dueAt = fromLocalInput(form.due);
    if (dueAt === null) {
      problems.push({ field: 'due_at', message: messages.date });
    }
  }
  let maxAttempts: number | null = null;
  if (form.maxAttempts.trim()) {
    const n = Number(form.maxAttempts);
    if (!Number.isInteger(n) || n < 1) {
      problems.push({ field: 'max_attempts', message: messages.wholeAtLeastOne });
    } else {
      maxAttempts = n;
    }
  }
  const latePolicy: AssignmentCreate['late_policy'] = { mode: form.lateMode };
  if (form.lateMode === 'penalty') {
    const p = Number(form.penaltyPerDay);
    if (!form.penaltyPerDay.trim() || !Number.isFinite(p) || p < 0 || p > 100) {
      problems.push({ field: 'late_policy.penalty_per_day', message: messages.percent });
    } else {
      latePolicy.penalty_per_day = p;
    }
  }
  const seenPaths = new Set<string>();
  const starterFiles: StarterFile[] = [];
  form.starterFiles.forEach((f, i) => {
    const path = f.path.trim();
    if (!path) {
      problems.push({ field: `starter_files[${i}].path`, message: messages.required });
    } else if (seenPaths.has(path)) {
      problems.push({ field: `starter_files[${i}].path`, message: messages.duplicate });
    }
    seenPaths.add(path);
    starterFiles.push({ path, content: f.content });
  });
  const seenReference = new Set<string>();
  const referenceFiles: StarterFile[] = [];
  form.referenceFiles.forEach((f, i) => {
    const path = f.path.trim();
    if (!path) {
      problems.push({ field: `reference_files[${i}].path`, message: messages.required });
    } else if (seenReference.has(path)) {
      problems.push({ field: `reference_files[${i}].path`, message: messages.duplicate });
    }
    seenReference.add(path);
    referenceFiles.push({ path, content: f.content });
  });
  const seenNames = new Set<string>();
  const tests: AssignmentTest[] = [];
  form.tests.forEach((t, i) => {
    const name = t.name.trim();
    if (!name) {
      problems.push({ field: `tests[${i}].name`, message: messages.required });
    } else if (seenNames.has(name)) {
      problems.push({ field: `tests[${i}].name`, message: messages.duplicate });
    }
    seenNames.add(name);
    const points = Number(t.points);
    if (!t.points.trim() || !Number.isFinite(points) || points < 0) {
      problems.push({ field: `tests[${i}].points`, message: messages.number });
    }
    const test: AssignmentTest = {
      name,
      stdin: t.stdin,
      expected_output: t.expected_output,
      points: Number.isFinite(points) ? points : 0,
      hidden: t.hidden,
      compare: t.compare
    };
    if (t.compare === 'numbers' && t.tolerance.trim()) {
      const tolerance = Number(t.tolerance);
      if (!Number.isFinite(tolerance) || tolerance < 0) {
        problems.push({ field: `tests[${i}].tolerance`, message: messages.tolerance });
      } else {
        test.tolerance = tolerance;
      }
    }
    tests.push(test);
  });
  if (problems.length) {
    return { ok: false, problems };
  }
  // a notebook's graded cells are its tests, its source notebook holds the solutions
  const notebook = form.format === 'nbgrader';
  return {
    ok: true,
    body: {
      title,
      description: form.description,
      language: form.language,
      ...(notebook ? { format: form.format } : { reference_files: referenceFiles, tests }),
      starter_files: starterFiles,
      due_at: dueAt,
      late_policy: latePolicy,
      max_attempts: maxAttempts,
      published: form.published
    }
  };
}

/** Points of all tests of a form (what a perfect submission scores). */
export function formMaxScore(form: IAssignmentForm): number {
  return form.tests.reduce((sum, t) => {
    const p = Number(t.points);
    return sum + (Number.isFinite(p) && p > 0 ? p : 0);
  }, 0);
}

/** `files` with `file` in place of the starter file of the same path (first if new). */
export function withSourceNotebook(files: StarterFile[], file: StarterFile): StarterFile[] {
  return files.some(f => f.path === file.path)
    ? files.map(f => (f.path === file.path ? file : f))
    : [file, ...files];
}
