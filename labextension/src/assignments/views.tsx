/**
 * The assignment views that open in JupyterLab's main area, one widget each.
 *
 * Students: one assignment (description, Start, Check, Submit, results and score).
 * Staff (TAs, instructors, admins): the assignment editor, the submissions table with
 * overrides, read-only project review and regrade, the roster with CSV import, and the
 * class gradebook.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { IAssignmentContext, ViewRequest } from './context';
import { AssignmentEditor } from './editor';
import { GradebookView } from './gradebook';
import { RosterView } from './roster';
import { StudentAssignment } from './student';
import { SubmissionsView } from './submissions';

/** A stable id for a view: the plugin reveals an open one instead of opening twice. */
export function viewId(view: ViewRequest): string {
  switch (view.kind) {
    case 'assignment':
      return `muscode-assignment-${view.assignmentId}`;
    case 'editor':
      return `muscode-editor-${view.klass.id}-${view.assignmentId ?? 'new'}`;
    case 'submissions':
      return `muscode-submissions-${view.assignmentId}`;
    case 'roster':
      return `muscode-roster-${view.klass.id}`;
    case 'gradebook':
      return `muscode-gradebook-${view.klass.id}`;
  }
}

export function viewTitle(trans: TranslationBundle, view: ViewRequest): string {
  switch (view.kind) {
    case 'assignment':
      return view.title;
    case 'editor':
      return view.assignmentId
        ? trans.__('Edit: %1', view.title)
        : trans.__('New assignment (%1)', view.klass.name);
    case 'submissions':
      return trans.__('Submissions: %1', view.title);
    case 'roster':
      return trans.__('Roster: %1', view.klass.name);
    case 'gradebook':
      return trans.__('Grades: %1', view.klass.name);
  }
}

/** A main-area widget for `view`. */
export function createView(ctx: IAssignmentContext, view: ViewRequest): MainAreaWidget {
  let body: JSX.Element;
  // the tab follows the title as saved (set once the widget exists)
  let retitle: (title: string) => void = () => undefined;
  const onTitle = (title: string) => retitle(title);
  switch (view.kind) {
    case 'assignment':
      body = <StudentAssignment ctx={ctx} assignmentId={view.assignmentId} />;
      break;
    case 'editor':
      body = (
        <AssignmentEditor
          ctx={ctx}
          klass={view.klass}
          assignmentId={view.assignmentId}
          onSaved={onTitle}
        />
      );
      break;
    case 'submissions':
      body = (
        <SubmissionsView
          ctx={ctx}
          klass={view.klass}
          assignmentId={view.assignmentId}
          onTitle={onTitle}
        />
      );
      break;
    case 'roster':
      body = <RosterView ctx={ctx} klass={view.klass} />;
      break;
    case 'gradebook':
      body = <GradebookView ctx={ctx} klass={view.klass} />;
      break;
  }
  const content = ReactWidget.create(body);
  content.addClass('muscode-View');
  const widget = new MainAreaWidget({ content });
  widget.id = viewId(view);
  widget.title.label = viewTitle(ctx.trans, view);
  retitle = title => {
    if (!widget.isDisposed && (view.kind === 'editor' || view.kind === 'submissions')) {
      widget.title.label = viewTitle(ctx.trans, { ...view, title, assignmentId: 'saved' });
    }
  };
  widget.title.closable = true;
  widget.addClass('muscode-ViewWidget');
  return widget;
}
