/**
 * The path templates of the MUSCode API that the client calls, and filling them in.
 */

/**
 * Every path template the client calls. `jlpm check:api` checks that each is in
 * `muscode_ext/openapi.yaml` or listed in `CONTRACT_ONLY_PATHS`.
 */
export const CLIENT_PATHS = [
  '/health',
  '/me',
  '/openapi.yaml',
  '/languages',
  '/projects',
  '/projects/{project_id}',
  '/projects/{project_id}/restore',
  '/projects/{project_id}/files',
  '/projects/{project_id}/files/{file_id}',
  '/executions',
  '/executions/{execution_id}',
  '/executions/{execution_id}/cancel',
  '/executions/{execution_id}/stream',
  '/executions/batch',
  '/events',
  '/collab/{file_id}',
  '/classes',
  '/classes/{class_id}',
  '/classes/{class_id}/members',
  '/classes/{class_id}/members.csv',
  '/classes/{class_id}/members/{name}',
  '/classes/{class_id}/assignments',
  '/classes/{class_id}/grades',
  '/classes/{class_id}/grades.csv',
  '/assignments/{assignment_id}',
  '/assignments/{assignment_id}/start',
  '/assignments/{assignment_id}/check',
  '/assignments/{assignment_id}/submissions',
  '/assignments/{assignment_id}/regrade',
  '/assignments/{assignment_id}/grades',
  '/assignments/{assignment_id}/grades.csv',
  '/assignments/{assignment_id}/verify',
  '/assignments/{assignment_id}/extensions',
  '/assignments/{assignment_id}/extensions/{student}',
  '/assignments/{assignment_id}/missing',
  '/submissions/{submission_id}',
  '/submissions/{submission_id}/results.json',
  '/submissions/{submission_id}/files',
  '/tokens',
  '/tokens/{token_id}'
] as const;

export type ClientPath = (typeof CLIENT_PATHS)[number];

/**
 * Paths of API.md that the served OpenAPI document does not list yet (none now: keep
 * the list for the next addition to the contract).
 */
export const CONTRACT_ONLY_PATHS = [] as const satisfies readonly ClientPath[];

/** The names in `{...}` of a path template. */
type ParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}`
  ? N | ParamNames<Rest>
  : never;

export type PathParams<P extends string> = [ParamNames<P>] extends [never]
  ? Record<string, never>
  : Record<ParamNames<P>, string>;

/** Fill a path template: `{name}` becomes the URL-encoded value. */
export function fillPath<P extends ClientPath>(template: P, params: PathParams<P>): string {
  const values = params as Record<string, string>;
  return template.replace(/\{([a-z_]+)\}/g, (_match, name: string) => {
    const value = values[name];
    if (value === undefined || value === '') {
      throw new Error(`missing path parameter ${name} for ${template}`);
    }
    return encodeURIComponent(value);
  });
}
