/**
 * Types of the MUSCode HTTP and websocket contract (`API.md`, `muscode_ext/openapi.yaml`).
 *
 * The schemas come from the document itself: `jlpm build:api` (run before every
 * build and test) turns it into `src/__generated__/openapi.ts` with openapi-typescript,
 * and each type here names one of its schemas, or a part of one. A schema the server
 * adds is there to use at once; a change the client does not follow fails the build.
 *
 * The messages of a run's live channel are described by the document in prose only;
 * they follow `API.md` and are written out at the end.
 */
import type { components, paths } from './__generated__/openapi';

type Schemas = components['schemas'];

// -- service -----------------------------------------------------------------------

/** The body of every error reply. Schema `Error`. */
export type ErrorBody = Schemas['Error'];
/** One field-level problem of a 400/422 reply. */
export type FieldError = NonNullable<ErrorBody['errors']>[number];
export type Health = Schemas['Health'];
export type Me = Schemas['Me'];
export type Scope = Me['scopes'][number];

// -- projects and files ------------------------------------------------------------

export type Project = Schemas['Project'];
export type ProjectDetail = Schemas['ProjectDetail'];
export type ProjectCreate = Schemas['ProjectCreate'];
export type ProjectUpdate = Schemas['ProjectUpdate'];
export type FileMeta = Schemas['FileMeta'];
export type FileWithContent = Schemas['FileWithContent'];
export type FileCreate = Schemas['FileCreate'];
export type FileUpdate = Schemas['FileUpdate'];
export type Encoding = FileWithContent['encoding'];

// -- executions --------------------------------------------------------------------

export type Language = Schemas['Language'];
export type Limits = Schemas['Limits'];
export type TestCase = Schemas['TestCase'];
/** Exactly one of `source`, `files` (+ `main`) or `project_id`. */
export type ExecutionCreate = Schemas['ExecutionCreate'];
export type Verdict = Schemas['Verdict'];
export type TestResult = Schemas['TestResult'];
/** A run, queued, running or finished. */
export type Execution = Schemas['Execution'];
/** One code cell of a notebook run: `ok`, `error` (with `ename`, `evalue`) or `not_run`. */
export type CellResult = Schemas['CellResult'];
export type ExecutionStatus = Execution['status'];
/** The reply of `POST /executions/batch` (an inline schema of the document). */
export type ExecutionBatch =
  paths['/executions/batch']['post']['responses'][201]['content']['application/json'];

// -- classes and tokens ------------------------------------------------------------

/** A class (a JupyterHub group under the hub). */
export type Class = Schemas['Class'];
export type ClassCreate = Schemas['ClassCreate'];
export type ClassUpdate = Schemas['ClassUpdate'];
export type Member = Schemas['Member'];
export type ClassRole = Member['role'];
/** The body of `PATCH /classes/{id}/members/{name}`. */
export type MemberUpdate = Schemas['MemberUpdate'];
/** A member's role defaults to student. */
export type MembersAdd = Schemas['MembersAdd'];
export type RosterImport = Schemas['RosterImport'];
export type TokenCreate = Schemas['TokenCreate'];
/** A MUSCode bearer token as listed (its id is the JWT's jti). */
export type Token = Schemas['Token'];
/** The reply that creates a token, the only one with the JWT. */
export type TokenCreated = Schemas['TokenCreated'];

// -- assignments and grading -------------------------------------------------------

/** A file every student's project starts with. */
export type StarterFile = Schemas['StarterFile'];
/** To students a hidden test has only `name`, `points` and `hidden`. */
export type AssignmentTest = Schemas['AssignmentTest'];
export type LatePolicy = Schemas['LatePolicy'];
export type LateMode = LatePolicy['mode'];
/** Submissions of an assignment, and those still grading. */
export type GradingProgress = Schemas['GradingProgress'];
/** The caller's own progress on an assignment. */
export type MyAssignment = Schemas['MyAssignment'];
export type Assignment = Schemas['Assignment'];
/** `files` (tests run the program) or `nbgrader` (a notebook's graded cells). */
export type AssignmentFormat = Schemas['AssignmentFormat'];
/** A notebook assignment's manually graded cell (`name` is its grade_id). */
export type AssignmentManualCell = NonNullable<Assignment['manual']>[number];
export type AssignmentCreate = Schemas['AssignmentCreate'];
export type AssignmentUpdate = Schemas['AssignmentUpdate'];
export type SubmissionCreate = Schemas['SubmissionCreate'];
/** The body of `POST /assignments/{id}/check` (`notebook`: which one, of several). */
export type CheckCreate = Schemas['CheckCreate'];
/** How a test's output is compared with the expected output. */
export type Compare = Schemas['Compare'];
/** The latest run of the tests on the reference solution, with per-test results. */
export type Verification = Schemas['Verification'];
export type VerificationSummary = Schemas['VerificationSummary'];
/** A student's own due date for one assignment. */
export type Extension = Schemas['Extension'];
export type ExtensionInput = Schemas['ExtensionInput'];
/** A student of the class without a submission of an assignment. */
export type MissingSubmission = Schemas['MissingSubmission'];
/** One file of a submission's graded snapshot. */
export type SubmissionFile = Schemas['SubmissionFile'];
/** A hidden test shows students only the required fields. */
export type SubmissionTest = Schemas['SubmissionTest'];
export type Submission = Schemas['Submission'];
export type SubmissionStatus = Submission['status'];
/** The `override` of a submission: a score set by hand. */
export type SubmissionOverride = NonNullable<Submission['override']>;
/** `score: null` clears the override. */
export type ScoreOverride = Schemas['ScoreOverride'];
/** A manually graded cell of a notebook submission, with its score. */
export type ManualCell = Schemas['ManualCell'];
/** One student of the class against one assignment. */
export type GradeRow = Schemas['GradeRow'];
/** Every student against every assignment (best scores). */
export type ClassGradebook = Schemas['ClassGradebook'];
/** A submission in Gradescope's `results.json` format. */
export type GradescopeResults = Schemas['GradescopeResults'];

// -- notices of `GET /events` -------------------------------------------------------

/** One of the caller's runs changed status. */
export type ExecutionNotice = Schemas['ExecutionNotice'];
/** One of the caller's submissions is graded (sent to its student). */
export type SubmissionNotice = Schemas['SubmissionNotice'];
/** Progress of a regrade (sent to the staff member who started it). */
export type RegradeNotice = Schemas['RegradeNotice'];
/** One message of the `GET /events` websocket. */
export type EventNotice = Schemas['EventNotice'];

// -- the live channel of a run (prose in the document) --------------------------------

/**
 * Server → client messages of `GET /executions/{id}/stream`; the server numbers
 * them with `seq`.
 */
export type StreamServerMessage = (
  | {
      type: 'status';
      status: ExecutionStatus;
      /** Longest one wait for input may last (ms), when the server says. */
      idle_ms?: number;
    }
  | { type: 'stdout' | 'stderr'; data: string }
  | CellProgress
  | { type: 'done'; result: Execution }
  | { type: 'error'; message: string; reason?: string }
) & { seq?: number };

/**
 * A notebook run's progress on its live channel: `running` as a cell starts, `ok` or
 * `error` (with `time_ms`, `ename`, `evalue`) as it ends. `index` counts all cells.
 */
export interface CellProgress {
  type: 'cell';
  index: number;
  status: 'running' | 'ok' | 'error';
  time_ms?: number | null;
  ename?: string | null;
  evalue?: string | null;
}

/** Client → server messages of `GET /executions/{id}/stream`. */
export type StreamClientMessage =
  | { type: 'stdin'; data: string }
  | { type: 'eof' }
  | { type: 'cancel' };
