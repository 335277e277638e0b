/**
 * Types of the MUSCode HTTP and websocket contract (`API.md`, `muscode_ext/openapi.yaml`).
 *
 * The first part mirrors the schemas of `muscode_ext/openapi.yaml` one to one;
 * `jlpm check:api` generates types from that document and fails the build when a
 * schema and its type here differ (names, required fields, value types).
 *
 * The live channel's messages and the assignments part of the contract are not
 * described by the document yet (the stream is, in prose only).
 * They follow `API.md`; the same check compares each of them as soon as a schema of
 * the same name appears in the document.
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
// Parts of API.md that the served OpenAPI document does not describe yet
// ---------------------------------------------------------------------------------

/** A test case of an assignment; hidden ones reach students as pass/fail only. */
export interface AssignmentTest {
  name: string;
  stdin?: string;
  expected_output?: string | null;
  points?: number;
  hidden?: boolean;
}

export interface Assignment {
  id: string;
  class_id: string;
  title: string;
  description?: string;
  language: string;
  starter_files?: FileCreate[];
  tests?: AssignmentTest[];
  due_at?: string | null;
  published?: boolean;
  /** The caller's own state, when the server reports it. */
  project_id?: string | null;
  score?: number | null;
  max_score?: number | null;
  status?: string | null;
}

export interface AssignmentCreate {
  title: string;
  description?: string;
  language: string;
  starter_files?: FileCreate[];
  tests?: AssignmentTest[];
  due_at?: string | null;
  published?: boolean;
}

export type AssignmentUpdate = Partial<AssignmentCreate>;

/** One graded test of a submission (hidden tests: verdict only). */
export interface SubmissionTest {
  name: string;
  verdict: Verdict;
  hidden?: boolean;
  points?: number | null;
  max_points?: number | null;
  stdout?: string | null;
  stderr?: string | null;
  time_ms?: number | null;
  memory_kb?: number | null;
}

export interface Submission {
  id: string;
  assignment_id: string;
  project_id: string;
  owner?: string;
  status?: string;
  score?: number | null;
  max_score?: number | null;
  late?: boolean;
  verdict?: Verdict;
  tests?: SubmissionTest[];
  created_at?: string;
}

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
