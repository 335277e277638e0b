import { describe, expect, it } from 'vitest';

import {
  attemptsLeft,
  bodyOf,
  byStudent,
  canDelete,
  csvFileName,
  emptyForm,
  emptyTest,
  formMaxScore,
  formOf,
  fromLocalInput,
  isPastDue,
  isStaff,
  passedText,
  plural,
  progressOf,
  rosterErrors,
  scoreText,
  studentStatus,
  studentTest,
  toLocalInput,
  visibleTests,
  withSourceNotebook
} from '../src/assignments/model';
import { MuscodeAPIError } from '../src/request';
import type { Me } from '../src/types';
import { makeAssignment, makeSubmission } from './fakeserver';

const MESSAGES = {
  required: 'required',
  number: 'number',
  wholeAtLeastOne: 'whole',
  percent: 'percent',
  duplicate: 'duplicate',
  date: 'date',
  tolerance: 'tolerance'
};

const me = (admin: boolean): Me => ({ name: 'x', admin, scopes: [], classes: [] });

describe('roles', () => {
  it('shows staff views to TAs, instructors and admins only', () => {
    expect(isStaff('student', me(false))).toBe(false);
    expect(isStaff(null, me(false))).toBe(false);
    expect(isStaff('ta', me(false))).toBe(true);
    expect(isStaff('instructor', null)).toBe(true);
    expect(isStaff('student', me(true))).toBe(true);
  });

  it('lets instructors and admins delete, not TAs', () => {
    expect(canDelete('ta', me(false))).toBe(false);
    expect(canDelete('instructor', me(false))).toBe(true);
    expect(canDelete(null, me(true))).toBe(true);
    expect(canDelete('student', null)).toBe(false);
  });
});

describe("a student's assignment", () => {
  it('is not started, started, then submitted', () => {
    const a = makeAssignment();
    expect(studentStatus(a)).toBe('not_started');
    const started = makeAssignment({ my: { ...a.my, project_id: 'p1' } });
    expect(studentStatus(started)).toBe('started');
    const submitted = makeAssignment({
      my: { ...a.my, project_id: 'p1', attempts: 1, submitted_at: '2026-01-02T00:00:00Z' }
    });
    expect(studentStatus(submitted)).toBe('submitted');
  });

  it('counts the attempts left only when there is a limit', () => {
    expect(attemptsLeft(makeAssignment())).toBeNull();
    const a = makeAssignment({ max_attempts: 3 });
    expect(attemptsLeft(a)).toBe(3);
    expect(attemptsLeft({ ...a, my: { ...a.my, attempts: 2 } })).toBe(1);
    // never negative, even if the server let one more through
    expect(attemptsLeft({ ...a, my: { ...a.my, attempts: 5 } })).toBe(0);
  });

  it('knows when the due date has passed', () => {
    const now = new Date('2026-03-01T12:00:00Z');
    expect(isPastDue({ due_at: null }, now)).toBe(false);
    expect(isPastDue({ due_at: '2026-03-01T11:59:00Z' }, now)).toBe(true);
    expect(isPastDue({ due_at: '2026-03-01T12:01:00Z' }, now)).toBe(false);
    expect(isPastDue({ due_at: 'not a date' }, now)).toBe(false);
  });

  it('writes scores as people do', () => {
    expect(scoreText(null, 3)).toBe('');
    expect(scoreText(2, 3)).toBe('2 / 3');
    expect(scoreText(1 / 3, 1)).toBe('0.33 / 1');
    expect(scoreText(1.5, null)).toBe('1.5');
  });

  it('checks only the visible tests', () => {
    expect(visibleTests(makeAssignment()).map(t => t.name)).toEqual(['hello']);
  });

  it('shows a hidden test as name, points and pass/fail only', () => {
    const [visible, hidden] = makeSubmission().tests;
    expect(studentTest(visible)).toBe(visible);
    expect(studentTest(hidden)).toEqual({
      name: 'secret',
      hidden: true,
      points: 2,
      points_awarded: 0,
      passed: false
    });
  });
});

describe('the submissions table', () => {
  it('groups by student, newest attempt first, with the best score', () => {
    const rows = byStudent([
      makeSubmission({ id: 's1', student: 'zoe', attempt: 1, score: 3 }),
      makeSubmission({ id: 's2', student: 'ada', attempt: 1, score: 1 }),
      makeSubmission({ id: 's3', student: 'zoe', attempt: 2, score: 2 }),
      makeSubmission({ id: 's4', student: 'ada', attempt: 2, score: null, status: 'grading' })
    ]);
    expect(rows.map(r => r.student)).toEqual(['ada', 'zoe']);
    expect(rows[0].latest.id).toBe('s4');
    expect(rows[0].best).toBe(1);
    expect(rows[1].submissions.map(s => s.id)).toEqual(['s3', 's1']);
    expect(rows[1].best).toBe(3);
  });

  it('counts passed tests', () => {
    expect(passedText(makeSubmission())).toBe('1/2');
  });

  it('turns regrade progress into a bar', () => {
    expect(progressOf({ total: 4, pending: 3, stale: 0 })).toEqual({
      total: 4,
      done: 1,
      fraction: 0.25,
      finished: false
    });
    expect(progressOf({ total: 4, pending: 0, stale: 0 }).finished).toBe(true);
    expect(progressOf({ total: 0, pending: 0, stale: 0 })).toEqual({
      total: 0,
      done: 0,
      fraction: 1,
      finished: true
    });
  });

  it('names grade downloads after the class and assignment', () => {
    expect(csvFileName('cs101', 'Echo & Friends!')).toBe('grades-cs101-echo-friends.csv');
    expect(csvFileName('CS 101')).toBe('grades-cs-101.csv');
    expect(csvFileName()).toBe('grades.csv');
  });
});

describe('roster import errors', () => {
  it('lists the bad lines in order', () => {
    const err = new MuscodeAPIError(422, 'the roster has bad lines', 'invalid', [
      { field: 'line 4', message: "unknown role 'boss'" },
      { field: 'line 2', message: 'a name is needed' }
    ]);
    expect(rosterErrors(err)).toEqual([
      { line: 2, message: 'a name is needed' },
      { line: 4, message: "unknown role 'boss'" }
    ]);
  });

  it('keeps problems that are not about a line', () => {
    const err = new MuscodeAPIError(422, 'bad', 'invalid', [
      { field: 'header', message: 'must be name,role' }
    ]);
    expect(rosterErrors(err)).toEqual([{ line: null, message: 'header: must be name,role' }]);
    expect(rosterErrors(new MuscodeAPIError(403, 'only instructors', 'forbidden'))).toEqual([
      { line: null, message: 'only instructors' }
    ]);
    expect(rosterErrors(new Error('offline'))).toEqual([{ line: null, message: 'offline' }]);
  });
});

describe('the assignment editor', () => {
  it('round-trips a due date through the datetime-local input', () => {
    const iso = '2026-05-04T15:30:00.000Z';
    const local = toLocalInput(iso);
    expect(local).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    expect(fromLocalInput(local)).toBe(iso);
    expect(toLocalInput(null)).toBe('');
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('nonsense')).toBeNull();
  });

  it('builds the request body of a valid form', () => {
    const form = {
      ...emptyForm('python'),
      title: '  Echo  ',
      description: '# Echo',
      due: toLocalInput('2026-05-04T15:30:00Z'),
      lateMode: 'penalty' as const,
      penaltyPerDay: '20',
      maxAttempts: '3',
      published: true,
      starterFiles: [{ path: ' main.py ', content: '# start\n' }],
      tests: [
        { ...emptyTest(1), name: 'hello', stdin: 'hi\n', expected_output: 'hi\n', points: '1.5' },
        { ...emptyTest(2), name: 'secret', points: '2', hidden: true }
      ]
    };
    expect(formMaxScore(form)).toBe(3.5);
    const result = bodyOf(form, MESSAGES);
    expect(result).toEqual({
      ok: true,
      body: {
        title: 'Echo',
        description: '# Echo',
        language: 'python',
        starter_files: [{ path: 'main.py', content: '# start\n' }],
        reference_files: [],
        tests: [
          {
            name: 'hello',
            stdin: 'hi\n',
            expected_output: 'hi\n',
            points: 1.5,
            hidden: false,
            compare: 'trailing_whitespace'
          },
          {
            name: 'secret',
            stdin: '',
            expected_output: '',
            points: 2,
            hidden: true,
            compare: 'trailing_whitespace'
          }
        ],
        due_at: '2026-05-04T15:30:00.000Z',
        late_policy: { mode: 'penalty', penalty_per_day: 20 },
        max_attempts: 3,
        published: true
      }
    });
  });

  it('names every field that needs a fix', () => {
    const form = {
      ...emptyForm('python'),
      title: ' ',
      lateMode: 'penalty' as const,
      penaltyPerDay: '150',
      maxAttempts: '0',
      starterFiles: [
        { path: 'a.py', content: '' },
        { path: 'a.py', content: '' }
      ],
      referenceFiles: [{ path: ' ', content: 'print(1)' }],
      tests: [
        { ...emptyTest(1), name: 't', compare: 'numbers' as const, tolerance: '-1' },
        { ...emptyTest(2), name: 't', points: '-1' },
        { ...emptyTest(3), name: '', points: '' }
      ]
    };
    const result = bodyOf(form, MESSAGES);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toEqual([
        { field: 'title', message: 'required' },
        { field: 'max_attempts', message: 'whole' },
        { field: 'late_policy.penalty_per_day', message: 'percent' },
        { field: 'starter_files[1].path', message: 'duplicate' },
        { field: 'reference_files[0].path', message: 'required' },
        { field: 'tests[0].tolerance', message: 'tolerance' },
        { field: 'tests[1].name', message: 'duplicate' },
        { field: 'tests[1].points', message: 'number' },
        { field: 'tests[2].name', message: 'required' },
        { field: 'tests[2].points', message: 'number' }
      ]);
    }
  });

  it('sends no limit and no due date when those fields are empty', () => {
    const result = bodyOf({ ...emptyForm('c'), title: 'x' }, MESSAGES);
    expect(result.ok && result.body).toMatchObject({
      due_at: null,
      max_attempts: null,
      late_policy: { mode: 'accept' },
      published: false
    });
  });

  it('fills the form from an assignment and gives the same body back', () => {
    const a = makeAssignment({
      due_at: '2026-05-04T15:30:00.000Z',
      max_attempts: 2,
      late_policy: { mode: 'no_credit' }
    });
    const result = bodyOf(formOf(a), MESSAGES);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.body.due_at).toBe(a.due_at);
      expect(result.body.max_attempts).toBe(2);
      expect(result.body.late_policy).toEqual({ mode: 'no_credit' });
      expect(result.body.tests?.map(t => [t.name, t.points, t.hidden])).toEqual([
        ['hello', 1, false],
        ['secret', 2, true]
      ]);
    }
  });
});

describe('notebook assignments', () => {
  it('sends the format and the source notebook, never tests or a reference', () => {
    const a = makeAssignment({
      format: 'nbgrader',
      starter_files: [{ path: 'lab.ipynb', content: '{}' }],
      tests: [{ name: 'test_squares', points: 1, hidden: false }],
      manual: [{ name: 'explain', points: 2 }]
    });
    const form = formOf(a);
    expect(form.format).toBe('nbgrader');
    const result = bodyOf(form, MESSAGES);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.body.format).toBe('nbgrader');
      expect(result.body.starter_files).toEqual([{ path: 'lab.ipynb', content: '{}' }]);
      expect('tests' in result.body).toBe(false);
      expect('reference_files' in result.body).toBe(false);
    }
    const files = bodyOf(formOf(makeAssignment()), MESSAGES);
    expect(files.ok && files.body.format).toBe(undefined);
    expect(files.ok && files.body.tests?.length).toBe(2);
  });

  it('puts an imported notebook in place of the starter file of its name', () => {
    const data = { path: 'numbers.txt', content: '1 2 3\n' };
    const old = { path: 'lab.ipynb', content: 'old' };
    const fresh = { path: 'lab.ipynb', content: 'new' };
    expect(withSourceNotebook([data], fresh)).toEqual([fresh, data]);
    expect(withSourceNotebook([data, old], fresh)).toEqual([data, fresh]);
  });
});

describe('output comparison and reference files', () => {
  it('sends each test its comparison, and a tolerance only for numbers', () => {
    const form = {
      ...emptyForm('python'),
      title: 'Pi',
      referenceFiles: [{ path: ' main.py ', content: 'print(3.14159)\n' }],
      tests: [
        { ...emptyTest(1), compare: 'numbers' as const, tolerance: '0.01' },
        { ...emptyTest(2), compare: 'numbers' as const, tolerance: '' },
        { ...emptyTest(3), compare: 'case' as const, tolerance: '5' }
      ]
    };
    const result = bodyOf(form, MESSAGES);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.body.reference_files).toEqual([
        { path: 'main.py', content: 'print(3.14159)\n' }
      ]);
      expect(result.body.tests?.map(t => [t.compare, t.tolerance])).toEqual([
        ['numbers', 0.01],
        ['numbers', undefined],
        ['case', undefined]
      ]);
    }
  });

  it('reads the comparison, tolerance and reference back from an assignment', () => {
    const a = makeAssignment({
      reference_files: [{ path: 'main.py', content: 'print(2)\n' }]
    });
    a.tests[0] = { ...a.tests[0], compare: 'numbers', tolerance: 0.5 };
    const form = formOf(a);
    expect(form.referenceFiles).toEqual([{ path: 'main.py', content: 'print(2)\n' }]);
    expect([form.tests[0].compare, form.tests[0].tolerance]).toEqual(['numbers', '0.5']);
    expect([form.tests[1].compare, form.tests[1].tolerance]).toEqual(['trailing_whitespace', '']);
  });
});

describe('plural', () => {
  it('says one thing in the singular and any other count in the plural', () => {
    expect(plural(1, 'submission', 'submissions')).toBe('1 submission');
    expect(plural(2, 'submission', 'submissions')).toBe('2 submissions');
    expect(plural(0, 'test', 'tests')).toBe('0 tests');
    expect(plural(1, 'test', 'tests')).toBe('1 test');
  });
});
