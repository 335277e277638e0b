/**
 * The assignments plugin: the Classes section of the side panel, and the assignment
 * views in the main area (a student's assignment; the staff's editor, submissions,
 * roster and gradebook).
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import { saveProjectEditors } from '../run/save';
import { IMuscodeDrives, IMuscodeEvents, IMuscodePanel, IMuscodeServer } from '../tokens';
import { ClassesView } from './classes';
import type { IAssignmentContext, ViewRequest } from './context';
import { openReview } from './review';
import { createSnapshot, snapshotId } from './snapshot';
import { createView, viewId } from './views';

export const assignmentsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'muscode-jupyterlab:assignments',
  description: 'MUSCode classes and assignments: Start, Check, Submit; the staff views.',
  autoStart: true,
  requires: [IMuscodeServer, IMuscodeEvents, IMuscodeDrives, IMuscodePanel, IDocumentManager],
  optional: [ITranslator, IRenderMimeRegistry, IEditorServices],
  activate: (
    app: JupyterFrontEnd,
    server: IMuscodeServer,
    events: IMuscodeEvents,
    drives: IMuscodeDrives,
    panel: IMuscodePanel,
    docManager: IDocumentManager,
    translator: ITranslator | null,
    rendermime: IRenderMimeRegistry | null,
    editorServices: IEditorServices | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('muscode');
    const views = new Map<string, MainAreaWidget>();
    const ctx: IAssignmentContext = {
      client: () => server.client,
      trans,
      me: () => server.me,
      catalog: () => server.catalog,
      capabilities: () => server.capabilities,
      feed: events,
      rendermime,
      openProject: async project => {
        drives.drive.addedProject(project);
        await panel.openProject(project);
        app.shell.activateById(panel.id);
      },
      openReview: (projectId, path) =>
        openReview(
          { client: server.client, review: drives.review, docManager, trans },
          projectId,
          path
        ),
      saveProject: projectId =>
        saveProjectEditors(
          {
            docManager,
            drive: drives.drive,
            trans,
            widgets: () => (app.shell as ILabShell).widgets('main')
          },
          projectId
        ),
      openSnapshot: async submission => {
        const id = snapshotId(submission);
        let widget = views.get(id);
        if (!widget || widget.isDisposed) {
          const files = await server.client.submissionFiles(submission.id);
          widget = createSnapshot(trans, submission, files, editorServices);
          views.set(id, widget);
          widget.disposed.connect(() => views.delete(id));
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
      },
      open: (view: ViewRequest) => {
        const id = viewId(view);
        let widget = views.get(id);
        if (!widget || widget.isDisposed) {
          widget = createView(ctx, view);
          views.set(id, widget);
          widget.disposed.connect(() => views.delete(id));
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
      },
      changed: new Signal<object, string>(server)
    };

    const classes = ReactWidget.create(<ClassesView ctx={ctx} serverChanged={server.changed} />);
    classes.addClass('muscode-Section');
    classes.title.label = trans.__('Classes');
    panel.addSection(classes);
  }
};
