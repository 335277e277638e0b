/**
 * The languages a MUSCode server knows, and which one a file name calls for.
 */
import type { Language } from '../types';

/** Languages the server can run, and which one a file name calls for. */
export class LanguageCatalog {
  constructor(readonly all: ReadonlyArray<Language>) {}

  /** Only the languages the server's sandbox can run now. */
  get available(): Language[] {
    return this.all.filter(l => l.available);
  }

  byId(id: string): Language | undefined {
    return this.all.find(l => l.id === id);
  }

  /** The language of a file, by its extension (an available one first). */
  forPath(path: string): Language | undefined {
    const name = path.split('/').pop() ?? path;
    const dot = name.lastIndexOf('.');
    if (dot <= 0) {
      return undefined;
    }
    const ext = name.slice(dot).toLowerCase();
    const matches = this.all.filter(l => l.extensions.map(e => e.toLowerCase()).includes(ext));
    return matches.find(l => l.available) ?? matches[0];
  }
}
