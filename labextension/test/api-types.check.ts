/**
 * Compile-time check of what the client says of `muscode_ext/openapi.yaml`.
 *
 * The types of `src/types.ts` are the document's own schemas (derived from the
 * generated `src/__generated__/openapi.ts`). `jlpm check:api` compiles this file: an
 * operation whose documented reply (with the status the client expects) is not the
 * type the client's method returns fails with the operation in the error; so does a
 * path the client calls that is neither in the document nor in CONTRACT_ONLY_PATHS.
 */
import type { paths } from '../src/__generated__/openapi';
import type { ClientPath, CONTRACT_ONLY_PATHS } from '../src/client/paths';
import type * as T from '../src/types';

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

/** The JSON body of a response object. */
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
/** What the client's methods say they get back, and with which status. */
type Replies = {
  'GET /health': [T.Health, 200];
  'GET /me': [T.Me, 200];
  'GET /languages': [T.Language[], 200];
  'GET /projects': [T.Project[], 200];
  'POST /projects': [T.ProjectDetail, 201];
  'GET /projects/{project_id}': [T.ProjectDetail, 200];
  'PATCH /projects/{project_id}': [T.ProjectDetail, 200];
  'POST /projects/{project_id}/restore': [T.ProjectDetail, 200];
  'GET /projects/{project_id}/files': [T.FileMeta[], 200];
  'POST /projects/{project_id}/files': [T.FileMeta, 201];
  'GET /projects/{project_id}/files/{file_id}': [T.FileWithContent, 200];
  'PUT /projects/{project_id}/files/{file_id}': [T.FileMeta, 200];
  'GET /executions': [T.Execution[], 200];
  'POST /executions': [T.Execution, 201];
  'GET /executions/{execution_id}': [T.Execution, 200];
  'POST /executions/{execution_id}/cancel': [T.Execution, 200];
  'GET /classes': [T.Class[], 200];
  'POST /classes': [T.Class, 201];
  'GET /classes/{class_id}': [T.Class, 200];
  'PATCH /classes/{class_id}': [T.Class, 200];
  'GET /classes/{class_id}/members': [T.Member[], 200];
  'POST /classes/{class_id}/members': [T.Member[], 200];
  'POST /classes/{class_id}/members.csv': [T.RosterImport, 200];
  'GET /classes/{class_id}/assignments': [T.Assignment[], 200];
  'POST /classes/{class_id}/assignments': [T.Assignment, 201];
  'GET /classes/{class_id}/grades': [T.ClassGradebook, 200];
  'GET /assignments/{assignment_id}': [T.Assignment, 200];
  'PATCH /assignments/{assignment_id}': [T.Assignment, 200];
  'POST /assignments/{assignment_id}/start': [T.ProjectDetail, 201];
  'POST /assignments/{assignment_id}/check': [T.Execution, 200];
  'GET /assignments/{assignment_id}/submissions': [T.Submission[], 200];
  'POST /assignments/{assignment_id}/submissions': [T.Submission, 201];
  'POST /assignments/{assignment_id}/regrade': [T.GradingProgress, 202];
  'GET /assignments/{assignment_id}/grades': [T.GradeRow[], 200];
  'GET /submissions/{submission_id}': [T.Submission, 200];
  'PATCH /submissions/{submission_id}': [T.Submission, 200];
  'GET /submissions/{submission_id}/results.json': [T.GradescopeResults, 200];
  'PATCH /classes/{class_id}/members/{name}': [T.Member, 200];
  'GET /submissions/{submission_id}/files': [T.SubmissionFile[], 200];
  'POST /assignments/{assignment_id}/verify': [T.Verification, 200];
  'GET /assignments/{assignment_id}/verify': [T.Verification, 200];
  'GET /assignments/{assignment_id}/extensions': [T.Extension[], 200];
  'PUT /assignments/{assignment_id}/extensions/{student}': [T.Extension, 201];
  'GET /assignments/{assignment_id}/missing': [T.MissingSubmission[], 200];
  'GET /tokens': [T.Token[], 200];
  'POST /tokens': [T.TokenCreated, 201];
};
type OperationChecks = { [K in keyof Replies]: Same<Replies[K][0], ReplyOf<K, Replies[K][1]>> };

type Failing<C> = { [K in keyof C]: C[K] extends true ? never : K }[keyof C];
/** Paths the client calls that the document does not list and that are not marked contract-only. */
type UnknownPaths = Exclude<ClientPath, keyof paths | (typeof CONTRACT_ONLY_PATHS)[number]>;

// Each line fails to compile naming what differs, e.g.
// "Type 'true' is not assignable to type '"operation differs: PATCH /submissions/{submission_id}"'".
export const operations: [Failing<OperationChecks>] extends [never]
  ? true
  : `operation differs: ${Failing<OperationChecks>}` = true;
export const unknownPaths: [UnknownPaths] extends [never]
  ? true
  : `path not in the document nor in CONTRACT_ONLY_PATHS: ${UnknownPaths}` = true;
