/**
 * The panel plugin: the MUSCode side panel (projects and the drive's files), the
 * commands that show it, make a project and reconnect, and the Launcher's cards.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { IMuscodeDrives, IMuscodeEvents, IMuscodePanel, IMuscodeServer } from '../tokens';
import type { Project } from '../types';
import { askText } from '../ui/dialogs';
import { muscodeIcon } from '../ui/icons';
import { addLauncherCards, newProjectIn, starterName } from './launcher';
import { MuscodePanel } from './panel';

namespace CommandIDs {
  export const openPanel = 'muscode:open-panel';
  export const newProject = 'muscode:new-project';
  export const refresh = 'muscode:refresh';
}

export const panelPlugin: JupyterFrontEndPlugin<IMuscodePanel> = {
  id: 'muscode-jupyterlab:panel',
  description: 'The MUSCode side panel: projects and the files of the MUSCode drive.',
  autoStart: true,
  provides: IMuscodePanel,
  requires: [IMuscodeServer, IMuscodeDrives, IDocumentManager, IFileBrowserFactory],
  optional: [IMuscodeEvents, ITranslator, ILayoutRestorer, ICommandPalette, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    server: IMuscodeServer,
    drives: IMuscodeDrives,
    docManager: IDocumentManager,
    browserFactory: IFileBrowserFactory,
    events: IMuscodeEvents | null,
    translator: ITranslator | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null
  ): IMuscodePanel => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const { drive } = drives;
    const browser = browserFactory.createFileBrowser('muscode-filebrowser', {
      driveName: drive.name,
      refreshInterval: 15000
    });
    const openProject = async (project: Project) => {
      await browser.model.cd(`/${project.name}`);
    };
    const newFile = async (project: Project) => {
      const name = await askText(
        trans,
        trans.__('New file in %1', project.name),
        trans.__('File name (a path inside the project)'),
        starterName(server.catalog, project.language)
      );
      if (!name) {
        return;
      }
      const path = `${drive.name}:${project.name}/${name.replace(/^\/+/, '')}`;
      await app.serviceManager.contents.save(path, { type: 'file', format: 'text', content: '' });
      await browser.model.cd(`/${PathExt.dirname(`${project.name}/${name}`)}`);
      docManager.openOrReveal(path);
    };

    const panel = new MuscodePanel({
      drive,
      trans,
      catalog: () => server.catalog,
      defaultLanguage: () => server.defaultLanguage,
      serverChanged: server.changed,
      onOpen: openProject,
      onNewFile: newFile,
      status: () => server.status,
      browser
    });
    app.shell.add(panel, 'left', { rank: 150 });
    restorer?.add(panel, 'muscode-sidepanel');
    if (events) {
      // Whether grades arrive as notices or by polling (for people debugging, and tests).
      panel.node.dataset.events = events.state;
      events.stateChanged.connect((_, state) => {
        panel.node.dataset.events = state;
      });
    }
    server.reconfigured.connect(() => void browser.model.refresh());

    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Show the MUSCode panel'),
      icon: muscodeIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    // A project made from the Launcher starts with its main file open in the editor.
    const createWithMain = async (name: string, language: string, description: string) => {
      const project = await drive.createProject(name, language, description);
      const path = `${drive.name}:${project.name}/${starterName(server.catalog, language)}`;
      await app.serviceManager.contents.save(path, { type: 'file', format: 'text', content: '' });
      await openProject(project);
      return docManager.openOrReveal(path);
    };
    const languageOf = (args: { language?: unknown }) =>
      typeof args.language === 'string' ? args.language : null;
    app.commands.addCommand(CommandIDs.newProject, {
      // With a language (a Launcher card): that language's card; without, the panel's.
      label: args => {
        const language = languageOf(args);
        if (language === null) {
          return trans.__('New MUSCode project…');
        }
        return trans.__('%1 project', server.catalog.byId(language)?.name ?? language);
      },
      caption: args => {
        const language = languageOf(args);
        const name = language === null ? '' : (server.catalog.byId(language)?.name ?? language);
        return name ? trans.__('New MUSCode project in %1', name) : trans.__('New MUSCode project');
      },
      icon: muscodeIcon,
      execute: args => {
        const language = languageOf(args);
        if (language !== null) {
          return newProjectIn(language, { server, trans, create: createWithMain });
        }
        app.shell.activateById(panel.id);
        panel.node.querySelector<HTMLButtonElement>('.muscode-Projects-new')?.click();
      }
    });
    if (launcher) {
      addLauncherCards(launcher, CommandIDs.newProject, server, trans);
    }
    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Reconnect to the MUSCode server'),
      execute: async () => {
        await server.refresh();
        await browser.model.refresh();
      }
    });
    if (palette) {
      const category = trans.__('MUSCode');
      for (const command of Object.values(CommandIDs)) {
        palette.addItem({ command, category });
      }
    }

    return {
      id: panel.id,
      browser,
      openProject,
      addSection: widget => panel.addWidget(widget)
    };
  }
};
