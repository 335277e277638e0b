/**
 * Which language a run panel runs its file in: the file's own (by its extension),
 * unless the student chose another one for this file on purpose.
 */
import type { LanguageCatalog } from '../client/languages';

/** A language the student picked by hand, and the file it was picked for. */
export interface IChosenLanguage {
  path: string;
  id: string;
}

/**
 * The language to run `path` in: `chosen` while it was chosen for this very path,
 * else the file's language (an available one first); '' when none is known.
 */
export function runLanguage(
  catalog: LanguageCatalog,
  path: string,
  chosen: IChosenLanguage | null
): string {
  if (chosen && chosen.path === path && catalog.byId(chosen.id)) {
    return chosen.id;
  }
  return catalog.forPath(path)?.id ?? '';
}
