/**
 * What the connected MUSCode server offers, read from the path templates of its own
 * OpenAPI document.
 */

/** Top-level path templates of an OpenAPI document (YAML or JSON text). */
export function openapiPaths(document: string): Set<string> {
  const found = new Set<string>();
  const trimmed = document.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { paths?: Record<string, unknown> };
      for (const key of Object.keys(parsed.paths ?? {})) {
        found.add(key);
      }
    } catch {
      // not JSON after all: fall through to the YAML reading
    }
    if (found.size) {
      return found;
    }
  }
  // A YAML reading small enough for our own document: the keys one level below
  // a top-level `paths:` mapping.
  let inPaths = false;
  let indent: number | null = null;
  for (const line of document.split(/\r?\n/)) {
    if (!line.trim() || line.trimStart().startsWith('#')) {
      continue;
    }
    const lead = line.length - line.trimStart().length;
    if (lead === 0) {
      inPaths = /^paths\s*:\s*$/.test(line);
      indent = null;
      continue;
    }
    if (!inPaths) {
      continue;
    }
    if (indent === null) {
      indent = lead;
    }
    if (lead !== indent) {
      continue;
    }
    const m = /^\s*(['"]?)(\/[^'":]*)\1\s*:/.exec(line);
    if (m) {
      found.add(m[2]);
    }
  }
  return found;
}

/** What the connected server offers beyond the projects and executions core. */
export interface ICapabilities {
  /** `GET /executions/{id}/stream`: live output, stdin and cancel over a websocket. */
  stream: boolean;
  /** `POST /executions/{id}/cancel`. */
  cancel: boolean;
  /** `/classes` and `/classes/{id}/assignments`. */
  classes: boolean;
  /** `/assignments/{id}/start` and `/assignments/{id}/submissions`. */
  assignments: boolean;
  /** `POST /assignments/{id}/check`: run the visible tests without submitting. */
  check: boolean;
  /** Grades as JSON and CSV, per assignment and per class. */
  grades: boolean;
  /** `GET /events`: the caller's notices over a websocket. */
  events: boolean;
  /** The path templates the server's OpenAPI document lists. */
  paths: ReadonlySet<string>;
}

export function capabilitiesFrom(paths: ReadonlySet<string>): ICapabilities {
  return {
    stream: paths.has('/executions/{execution_id}/stream'),
    cancel: paths.has('/executions/{execution_id}/cancel'),
    classes: paths.has('/classes') && paths.has('/classes/{class_id}/assignments'),
    assignments:
      paths.has('/assignments/{assignment_id}/start') &&
      paths.has('/assignments/{assignment_id}/submissions'),
    check: paths.has('/assignments/{assignment_id}/check'),
    grades:
      paths.has('/assignments/{assignment_id}/grades.csv') &&
      paths.has('/classes/{class_id}/grades.csv'),
    events: paths.has('/events'),
    paths
  };
}
