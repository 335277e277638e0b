/**
 * "New MUSCode project" in JupyterLab's Launcher: one card per language the server can
 * run, under the MUSCode category. A card asks for the project's name (the side panel's
 * new-project dialog, its language chosen), makes the project with a main file, and
 * opens that file in the editor.
 */
import { showErrorMessage } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { TranslationBundle } from '@jupyterlab/translation';
import { DisposableSet } from '@lumino/disposable';
import type { Widget } from '@lumino/widgets';

import type { LanguageCatalog } from '../client/languages';
import { describeError } from '../request';
import type { IMuscodeServer } from '../tokens';
import { askNewProject } from './newproject';

/** A file name for a new file of `language` in a project. */
export function starterName(catalog: LanguageCatalog, language: string): string {
  const ext = catalog.byId(language)?.extensions[0] ?? '.txt';
  return language === 'java' ? `Main${ext}` : `main${ext}`;
}

export interface ILaunchOptions {
  server: IMuscodeServer;
  trans: TranslationBundle;
  /** Make the project with its main file and open it: the file's editor. */
  create: (name: string, language: string, description: string) => Promise<Widget | undefined>;
}

/**
 * What a card does: the new-project dialog with `language` chosen, then `create`. The
 * editor it returns takes the Launcher's place, as a new notebook's does.
 */
export async function newProjectIn(
  language: string,
  options: ILaunchOptions
): Promise<Widget | undefined> {
  const { server, trans } = options;
  const available = server.catalog.available;
  try {
    if (!available.length) {
      throw new Error(trans.__('This MUSCode server cannot run any language right now'));
    }
    const chosen = available.some(l => l.id === language) ? language : available[0].id;
    const form = await askNewProject(trans, available, chosen);
    if (form) {
      return await options.create(form.name, form.language, form.description ?? '');
    }
  } catch (err) {
    await showErrorMessage(trans.__('New MUSCode project'), describeError(err));
  }
  return undefined;
}

/**
 * Keep one Launcher card per available language: the cards follow the server's
 * languages as they are read (a server still probing its runtimes has none yet).
 */
export function addLauncherCards(
  launcher: ILauncher,
  command: string,
  server: IMuscodeServer,
  trans: TranslationBundle
): void {
  let cards = new DisposableSet();
  let shown = '';
  const update = () => {
    const languages = server.catalog.available;
    const key = languages.map(l => l.id).join(' ');
    if (key === shown) {
      return;
    }
    shown = key;
    cards.dispose();
    cards = new DisposableSet();
    languages.forEach((l, rank) => {
      cards.add(
        launcher.add({ command, args: { language: l.id }, category: trans.__('MUSCode'), rank })
      );
    });
  };
  server.changed.connect(update);
  update();
}
