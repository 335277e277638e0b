/**
 * Types of the MUSCode HTTP and websocket contract (`API.md`, `muscode_ext/openapi.yaml`).
 *
 * The first part mirrors the schemas of `muscode_ext/openapi.yaml` one to one;
 * `jlpm check:api` generates types from that document and fails the build when a
 * schema and its type here differ (names, required fields, value types).
 *
 * The messages of the live channel and of `GET /events` are described by the document
 * in prose only; they follow `API.md` and the document's descriptions.
 */

// ---------------------------------------------------------------------------------
// Schemas of muscode_ext/openapi.yaml
// ---------------------------------------------------------------------------------

/** One field-level problem of a 400/422 reply. */
export interface FieldError {
  field: string;
  message: string;
}

/** The body of every error reply. Schema `Error`. */
export interface ErrorBody {
  message: string;
  reason: string;
  errors?: FieldError[];
}

/** Schema `Health`. */
export interface Health {
  status: 'ok' | 'degraded';
  checks: {
    database?: string;
    queue?: string;
    executor?: string;
  } & { [check: string]: string };
  version: string;
}

export type Scope = 'execute' | 'projects' | 'classes:read' | 'classes:write' | 'grade' | 'admin';

export type ClassRole = 'student' | 'ta' | 'instructor';

/** Schema `Me`. */
export interface Me {
  name: string;
  admin: boolean;
  scopes: Scope[];
  classes: { id: string; slug: string; role: ClassRole }[];
}

/** Schema `Project`. */
export interface Project {
  id: string;
  name: string;
  description: string;
  language: string;
  owner: string;
  class_id: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/** Schema `ProjectDetail`. */
export interface ProjectDetail extends Project {
  files: FileMeta[];
}

/** Schema `ProjectCreate`. */
export interface ProjectCreate {
  name: string;
  description?: string;
  language: string;
  class_id?: string | null;
  files?: FileCreate[];
}

/** Schema `ProjectUpdate`. */
export interface ProjectUpdate {
  name?: string;
  description?: string;
  language?: string;
}

export type Encoding = 'utf-8' | 'base64';

/** Schema `FileMeta`. */
export interface FileMeta {
  id: string;
  project_id: string;
  path: string;
  size: number;
  sha256: string;
  version: number;
  created_at: string;
  updated_at: string;
}

/** Schema `FileWithContent`. */
export interface FileWithContent extends FileMeta {
  content: string;
  encoding: Encoding;
}

/** Schema `FileCreate`. */
export interface FileCreate {
  path: string;
  content: string;
  encoding?: Encoding;
}

/** Schema `FileUpdate`. */
export interface FileUpdate {
  content?: string;
  encoding?: Encoding;
  path?: string;
  version?: number;
}

/** Schema `Language`. */
export interface Language {
  id: string;
  name: string;
  version: string | null;
  extensions: string[];
  compiled: boolean;
  available: boolean;
}

/** Schema `Limits`. */
export interface Limits {
  cpu_time_ms?: number;
  wall_time_ms?: number;
  memory_mb?: number;
  processes?: number;
  output_kb?: number;
  file_size_kb?: number;
}

/** Schema `TestCase`. */
export interface TestCase {
  name: string;
  stdin?: string;
  expected_output?: string | null;
  limits?: Limits;
}

/** Schema `ExecutionCreate`: exactly one of `source`, `files` (+ `main`) or `project_id`. */
export interface ExecutionCreate {
  language: string;
  source?: string;
  files?: FileCreate[];
  main?: string;
  project_id?: string;
  stdin?: string;
  args?: string[];
  compiler_options?: string;
  expected_output?: string | null;
  tests?: TestCase[];
  limits?: Limits;
  callback_url?: string | null;
  interactive?: boolean;
}

/** Schema `Verdict`. */
export type Verdict =
  | null
  | 'accepted'
  | 'wrong_answer'
  | 'compile_error'
  | 'runtime_error'
  | 'time_limit_exceeded'
  | 'memory_limit_exceeded'
  | 'output_limit_exceeded'
  | 'cancelled'
  | 'internal_error';

/** Schema `TestResult`. */
export interface TestResult {
  name: string;
  verdict: Verdict;
  stdout: string;
  stderr: string;
  exit_code?: number | null;
  signal?: number | null;
  time_ms: number | null;
  wall_time_ms?: number | null;
  memory_kb: number | null;
  truncated?: { stdout?: boolean; stderr?: boolean };
  message?: string | null;
}

export type ExecutionStatus = 'queued' | 'running' | 'done';

/** Schema `Execution`: a run, queued, running or finished. */
export interface Execution {
  id: string;
  status: ExecutionStatus;
  verdict: Verdict;
  exit_code: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  compile_output: string | null;
  compile_time_ms?: number | null;
  truncated: { stdout: boolean; stderr: boolean };
  time_ms: number | null;
  wall_time_ms: number | null;
  memory_kb: number | null;
  language: string;
  project_id?: string | null;
  owner?: string;
  limits: Limits;
  tests?: TestResult[];
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  message: string | null;
}

/** `POST /executions/batch` reply (an inline schema of the document). */
export interface ExecutionBatch {
  ids: string[];
}

/**
 * Server → client messages of `GET /executions/{id}/stream`; the server numbers
 * them with `seq`.
 */
export type StreamServerMessage = (
  | { type: 'status'; status: ExecutionStatus }
  | { type: 'stdout' | 'stderr'; data: string }
  | { type: 'done'; result: Execution }
  | { type: 'error'; message: string; reason?: string }
) & { seq?: number };

/** Client → server messages of `GET /executions/{id}/stream`. */
export type StreamClientMessage =
  | { type: 'stdin'; data: string }
  | { type: 'eof' }
  | { type: 'cancel' };

// ---------------------------------------------------------------------------------
// Classes and tokens (schemas of the document)
// ---------------------------------------------------------------------------------

/** Schema `Class`: a class (a JupyterHub group under the hub). */
export interface Class {
  id: string;
  /** Also the JupyterHub group name. */
  slug: string;
  name: string;
  term: string;
  created_at: string;
  /** The caller's role (null for an admin who is not a member). */
  role: ClassRole | null;
}

/** Schema `ClassCreate`. */
export interface ClassCreate {
  slug: string;
  name: string;
  term?: string;
}

/** Schema `ClassUpdate`. */
export interface ClassUpdate {
  name?: string;
  term?: string;
}

/** Schema `Member`. */
export interface Member {
  name: string;
  role: ClassRole;
}

/** Schema `MembersAdd` (a member's role defaults to student). */
export interface MembersAdd {
  members: { name: string; role?: ClassRole }[];
}

// ---------------------------------------------------------------------------------
// Assignments and grading (schemas of the document)
// ---------------------------------------------------------------------------------

/** Schema `StarterFile`: a file every student's project starts with. */
export interface StarterFile {
  path: string;
  content: string;
}

/**
 * Schema `AssignmentTest`. To students a hidden test has only `name`, `points` and
 * `hidden`.
 */
export interface AssignmentTest {
  name: string;
  stdin?: string;
  expected_output?: string | null;
  points?: number;
  hidden?: boolean;
  limits?: Limits | null;
}

export type LateMode = 'accept' | 'penalty' | 'no_credit';

/**
 * Schema `LatePolicy`: after `due_at`, `accept` (full credit, flagged late), `penalty`
 * (minus `penalty_per_day` percent per started day late) or `no_credit`.
 */
export interface LatePolicy {
  mode: LateMode;
  penalty_per_day?: number;
}

/** Schema `GradingProgress`: submissions of an assignment, and those still grading. */
export interface GradingProgress {
  total: number;
  pending: number;
}

/** Schema `MyAssignment`: the caller's own progress on an assignment. */
export interface MyAssignment {
  project_id: string | null;
  attempts: number;
  latest_score: number | null;
  best_score: number | null;
  submitted_at: string | null;
}

/** Schema `Assignment`. */
export interface Assignment {
  id: string;
  class_id: string;
  title: string;
  /** Markdown. */
  description: string;
  language: string;
  starter_files: StarterFile[];
  tests: AssignmentTest[];
  due_at: string | null;
  late_policy: LatePolicy;
  max_attempts: number | null;
  limits: Limits | null;
  published: boolean;
  max_score: number;
  created_at: string;
  updated_at: string;
  /** The caller's role in the class (null for an admin who is not a member). */
  role: ClassRole | null;
  my: MyAssignment;
  /** Regrading progress (staff). */
  grading?: GradingProgress;
}

/** Schema `AssignmentCreate`. */
export interface AssignmentCreate {
  title: string;
  description?: string;
  language: string;
  starter_files?: StarterFile[];
  tests?: AssignmentTest[];
  due_at?: string | null;
  late_policy?: LatePolicy;
  max_attempts?: number | null;
  limits?: Limits | null;
  published?: boolean;
}

/** Schema `AssignmentUpdate`. */
export interface AssignmentUpdate {
  title?: string;
  description?: string;
  language?: string;
  starter_files?: StarterFile[];
  tests?: AssignmentTest[];
  due_at?: string | null;
  late_policy?: LatePolicy;
  max_attempts?: number | null;
  limits?: Limits | null;
  published?: boolean;
}

/** Schema `SubmissionCreate` (also the body of `POST /assignments/{id}/check`). */
export interface SubmissionCreate {
  project_id: string;
}

/**
 * Schema `SubmissionTest`. A hidden test shows students only the required fields;
 * staff and visible tests add the run's verdict, output and measurements.
 */
export interface SubmissionTest {
  name: string;
  hidden: boolean;
  points: number;
  points_awarded: number;
  passed: boolean;
  verdict?: Verdict;
  stdin?: string;
  expected_output?: string | null;
  stdout?: string;
  stderr?: string;
  time_ms?: number | null;
  memory_kb?: number | null;
  message?: string | null;
}

/** The `override` of a submission: a score set by hand. */
export interface SubmissionOverride {
  score: number;
  comment: string;
  by: string;
  at: string;
}

export type SubmissionStatus = 'grading' | 'graded';

/** Schema `Submission`. */
export interface Submission {
  id: string;
  assignment_id: string;
  student: string;
  project_id: string | null;
  /** 1 for the first submission. */
  attempt: number;
  submitted_at: string;
  late: boolean;
  days_late: number;
  status: SubmissionStatus;
  verdict: Verdict;
  message?: string | null;
  compile_output: string | null;
  /** Points from the tests. */
  raw_score: number | null;
  /** After the late policy, or the override. */
  score: number | null;
  max_score: number;
  override: SubmissionOverride | null;
  tests: SubmissionTest[];
  /** The paths of the files submitted. */
  files?: string[];
  graded_at: string | null;
}

/** Schema `ScoreOverride`: `score: null` clears the override. */
export interface ScoreOverride {
  score: number | null;
  comment?: string;
}

/** Schema `GradeRow`: one student of the class against one assignment. */
export interface GradeRow {
  student: string;
  latest_score: number | null;
  best_score: number | null;
  max_score: number;
  /** Of the latest submission. */
  submitted_at: string | null;
  /** Whether the latest submission was late. */
  late: boolean | null;
  attempts: number;
  /** The latest score is a manual override. */
  overridden: boolean;
}

/** Schema `ClassGradebook`: every student against every assignment (best scores). */
export interface ClassGradebook {
  assignments: {
    id: string;
    title: string;
    max_score: number;
    due_at: string | null;
    published: boolean;
  }[];
  students: {
    name: string;
    /** Best score by assignment id. */
    scores: { [assignmentId: string]: number | null };
  }[];
}

/** Schema `GradescopeResults`: a submission in Gradescope's `results.json` format. */
export interface GradescopeResults {
  score: number;
  execution_time?: number;
  output?: string;
  visibility?: string;
  stdout_visibility?: string;
  tests: {
    name: string;
    number?: string;
    score: number;
    max_score: number;
    status?: 'passed' | 'failed';
    output?: string;
    visibility: 'visible' | 'hidden' | 'after_due_date' | 'after_published';
  }[];
}

// ---------------------------------------------------------------------------------
// Notices of `GET /events` (schemas `ExecutionNotice`, `SubmissionNotice`, `RegradeNotice`,
// `EventNotice`)
// ---------------------------------------------------------------------------------

/** Schema `ExecutionNotice`: one of the caller's runs changed status. */
export interface ExecutionNotice {
  type: 'execution';
  id: string;
  status: ExecutionStatus;
  verdict: Verdict;
  language: string;
  project_id: string | null;
}

/** Schema `SubmissionNotice`: one of the caller's submissions is graded (sent to its student). */
export interface SubmissionNotice {
  type: 'submission';
  id: string;
  assignment_id: string;
  status: SubmissionStatus;
  score: number | null;
}

/** Schema `RegradeNotice`: progress of a regrade (sent to the staff member who started it). */
export interface RegradeNotice {
  type: 'regrade';
  assignment_id: string;
  total: number;
  pending: number;
}

/** Schema `EventNotice`: one message of the `GET /events` websocket. */
export type EventNotice = ExecutionNotice | SubmissionNotice | RegradeNotice;

/** Schema `TokenCreate`. */
export interface TokenCreate {
  name: string;
  scopes: Scope[];
  /** Bind the token to one class. */
  class_id?: string | null;
  /** Seconds. */
  expires_in: number;
}

/** Schema `Token`: a MUSCode bearer token as listed (its id is the JWT's jti). */
export interface Token {
  id: string;
  name: string;
  owner: string;
  scopes: Scope[];
  class_id: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

/** Schema `TokenCreated`: the reply that creates a token, the only one with the JWT. */
export interface TokenCreated extends Token {
  token: string;
}
