/**
 * Compile-time check that `src/types.ts` matches `muscode_ext/openapi.yaml`.
 *
 * `jlpm check:api` generates `src/__generated__/openapi.ts` from the document with
 * openapi-typescript and compiles this file: a schema whose properties, required
 * fields or value types differ from ours (nested objects and arrays included) fails
 * with the schema's name in the error; so does a schema we have not mapped yet and a
 * path the client calls that is neither in the document nor in CONTRACT_ONLY_PATHS.
 */
import type { components, paths } from '../src/__generated__/openapi';
import type { ClientPath, CONTRACT_ONLY_PATHS } from '../src/request';
import type * as T from '../src/types';

type Schemas = components['schemas'];

type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type RequiredKeys<O> = {
  [K in keyof O]-?: Record<string, never> extends Pick<O, K> ? never : K;
}[keyof O];
type Nullish<V> = Extract<V, null | undefined>;
type AllTrue<O> = [O[keyof O]] extends [true] ? true : false;
type IsPlainObject<V> = [V] extends [readonly unknown[]]
  ? false
  : [V] extends [object]
    ? true
    : false;

/** Same keys, same required keys, and every property the same, recursively. */
type SameObject<A, B> =
  Mutual<keyof A, keyof B> extends true
    ? Mutual<RequiredKeys<A>, RequiredKeys<B>> extends true
      ? AllTrue<{ [K in keyof A & keyof B]-?: Same<A[K], B[K]> }>
      : false
    : false;

type SameValue<A, B> = [A] extends [readonly (infer EA)[]]
  ? [B] extends [readonly (infer EB)[]]
    ? Same<EA, EB>
    : false
  : IsPlainObject<A> extends true
    ? IsPlainObject<B> extends true
      ? SameObject<A, B>
      : false
    : Mutual<A, B>;

type Same<A, B> =
  Mutual<Nullish<A>, Nullish<B>> extends true ? SameValue<NonNullable<A>, NonNullable<B>> : false;

type Checks = {
  Error: Same<T.ErrorBody, Schemas['Error']>;
  Health: Same<T.Health, Schemas['Health']>;
  Me: Same<T.Me, Schemas['Me']>;
  Project: Same<T.Project, Schemas['Project']>;
  ProjectDetail: Same<T.ProjectDetail, Schemas['ProjectDetail']>;
  ProjectCreate: Same<T.ProjectCreate, Schemas['ProjectCreate']>;
  ProjectUpdate: Same<T.ProjectUpdate, Schemas['ProjectUpdate']>;
  FileMeta: Same<T.FileMeta, Schemas['FileMeta']>;
  FileWithContent: Same<T.FileWithContent, Schemas['FileWithContent']>;
  FileCreate: Same<T.FileCreate, Schemas['FileCreate']>;
  FileUpdate: Same<T.FileUpdate, Schemas['FileUpdate']>;
  Language: Same<T.Language, Schemas['Language']>;
  Limits: Same<T.Limits, Schemas['Limits']>;
  TestCase: Same<T.TestCase, Schemas['TestCase']>;
  ExecutionCreate: Same<T.ExecutionCreate, Schemas['ExecutionCreate']>;
  Verdict: Same<T.Verdict, Schemas['Verdict']>;
  TestResult: Same<T.TestResult, Schemas['TestResult']>;
  Execution: Same<T.Execution, Schemas['Execution']>;
  Class: Same<T.Class, Schemas['Class']>;
  ClassCreate: Same<T.ClassCreate, Schemas['ClassCreate']>;
  ClassUpdate: Same<T.ClassUpdate, Schemas['ClassUpdate']>;
  Member: Same<T.Member, Schemas['Member']>;
  MembersAdd: Same<T.MembersAdd, Schemas['MembersAdd']>;
  Token: Same<T.Token, Schemas['Token']>;
  TokenCreated: Same<T.TokenCreated, Schemas['TokenCreated']>;
  TokenCreate: Same<T.TokenCreate, Schemas['TokenCreate']>;
  StarterFile: Same<T.StarterFile, Schemas['StarterFile']>;
  AssignmentTest: Same<T.AssignmentTest, Schemas['AssignmentTest']>;
  LatePolicy: Same<T.LatePolicy, Schemas['LatePolicy']>;
  GradingProgress: Same<T.GradingProgress, Schemas['GradingProgress']>;
  MyAssignment: Same<T.MyAssignment, Schemas['MyAssignment']>;
  Assignment: Same<T.Assignment, Schemas['Assignment']>;
  AssignmentCreate: Same<T.AssignmentCreate, Schemas['AssignmentCreate']>;
  AssignmentUpdate: Same<T.AssignmentUpdate, Schemas['AssignmentUpdate']>;
  SubmissionCreate: Same<T.SubmissionCreate, Schemas['SubmissionCreate']>;
  SubmissionTest: Same<T.SubmissionTest, Schemas['SubmissionTest']>;
  Submission: Same<T.Submission, Schemas['Submission']>;
  ExecutionNotice: Same<T.ExecutionNotice, Schemas['ExecutionNotice']>;
  SubmissionNotice: Same<T.SubmissionNotice, Schemas['SubmissionNotice']>;
  RegradeNotice: Same<T.RegradeNotice, Schemas['RegradeNotice']>;
  // a union: each member above, and the union itself both ways
  EventNotice: Mutual<T.EventNotice, Schemas['EventNotice']>;
  ScoreOverride: Same<T.ScoreOverride, Schemas['ScoreOverride']>;
  GradeRow: Same<T.GradeRow, Schemas['GradeRow']>;
  ClassGradebook: Same<T.ClassGradebook, Schemas['ClassGradebook']>;
  GradescopeResults: Same<T.GradescopeResults, Schemas['GradescopeResults']>;
};

/** Inline (unnamed) schemas of operations. */
type BatchReply =
  paths['/executions/batch']['post']['responses'][201]['content']['application/json'];
type Json<R> = R extends { content: { 'application/json': infer B } } ? B : never;
type Op<P extends keyof paths, M extends keyof paths[P]> = paths[P][M];
type Reply<P extends keyof paths, M extends keyof paths[P], S extends number> =
  Op<P, M> extends { responses: infer R } ? (S extends keyof R ? Json<R[S]> : never) : never;
/** The JSON reply with status `S` of the operation `'METHOD /path'` (never if there is none). */
type ReplyOf<K, S extends number> = K extends `${infer M} ${infer P}`
  ? P extends keyof paths
    ? Lowercase<M> extends keyof paths[P]
      ? Reply<P, Lowercase<M>, S>
      : never
    : never
  : never;
/** What the client's assignment and grading methods say they get back, and with which status. */
type Replies = {
  'POST /assignments/{assignment_id}/start': [T.ProjectDetail, 201];
  'POST /assignments/{assignment_id}/check': [T.Execution, 200];
  'POST /assignments/{assignment_id}/submissions': [T.Submission, 201];
  'POST /assignments/{assignment_id}/regrade': [T.GradingProgress, 202];
  'GET /assignments/{assignment_id}/grades': [T.GradeRow[], 200];
  'GET /classes/{class_id}/grades': [T.ClassGradebook, 200];
  'PATCH /submissions/{submission_id}': [T.Submission, 200];
  'POST /classes/{class_id}/members.csv': [T.Member[], 200];
};
type OperationChecks = {
  'POST /executions/batch': Same<T.ExecutionBatch, BatchReply>;
} & { [K in keyof Replies]: Same<Replies[K][0], ReplyOf<K, Replies[K][1]>> };

type Failing<C> = { [K in keyof C]: C[K] extends true ? never : K }[keyof C];
/** Schemas of the document that src/types.ts does not mirror yet. */
type Unmapped = Exclude<keyof Schemas, keyof Checks>;
/** Paths the client calls that the document does not list and that are not marked contract-only. */
type UnknownPaths = Exclude<ClientPath, keyof paths | (typeof CONTRACT_ONLY_PATHS)[number]>;

// Each line fails to compile naming what differs, e.g.
// "Type 'true' is not assignable to type '"schema differs: Project"'".
export const schemas: [Failing<Checks>] extends [never]
  ? true
  : `schema differs: ${Failing<Checks>}` = true;
export const operations: [Failing<OperationChecks>] extends [never]
  ? true
  : `operation differs: ${Failing<OperationChecks>}` = true;
export const unmapped: [Unmapped] extends [never]
  ? true
  : `schema not mirrored in src/types.ts: ${Unmapped}` = true;
export const unknownPaths: [UnknownPaths] extends [never]
  ? true
  : `path not in the document nor in CONTRACT_ONLY_PATHS: ${UnknownPaths}` = true;
