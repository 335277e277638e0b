/**
 * A submission's graded snapshot (staff): exactly the files that were graded
 * (`GET /submissions/{id}/files`), not the student's project as it is now, shown
 * read-only in JupyterLab's code editors, one per file, in a main-area widget titled
 * with the student and the attempt.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { CodeEditor, CodeEditorWrapper, IEditorServices } from '@jupyterlab/codeeditor';
import { TranslationBundle } from '@jupyterlab/translation';
import { Panel, Widget } from '@lumino/widgets';

import type { Submission, SubmissionFile } from '../types';
import { formatWhen } from './parts';

/** The tab's title of a submission's snapshot: `ada — attempt 2`. */
export function snapshotTitle(trans: TranslationBundle, s: Submission): string {
  return trans.__('%1 — attempt %2', s.student, String(s.attempt));
}

export function snapshotId(s: Submission): string {
  return `muscode-snapshot-${s.id}`;
}

function textBlock(className: string, text: string, tag = 'p'): Widget {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return new Widget({ node });
}

/** One file, read-only: a code editor (with the file's highlighting) or plain text. */
function fileWidget(
  file: SubmissionFile,
  trans: TranslationBundle,
  services: IEditorServices | null
): Widget {
  const box = new Panel();
  box.addClass('muscode-Snapshot-file');
  box.node.dataset.path = file.path;
  box.addWidget(textBlock('muscode-Snapshot-path', file.path, 'h3'));
  if (file.encoding !== 'utf-8') {
    box.addWidget(
      textBlock(
        'muscode-Empty',
        trans.__(
          'Not text (%1 bytes, base64): not shown.',
          String(Math.floor(file.content.length * 0.75))
        )
      )
    );
    return box;
  }
  if (!services) {
    const pre = textBlock('muscode-Code muscode-Snapshot-text', file.content, 'pre');
    pre.node.setAttribute('aria-label', trans.__('%1 (read-only)', file.path));
    box.addWidget(pre);
    return box;
  }
  const model = new CodeEditor.Model({
    mimeType: services.mimeTypeService.getMimeTypeByFilePath(file.path)
  });
  model.sharedModel.setSource(file.content);
  const editor = new CodeEditorWrapper({
    factory: services.factoryService.newDocumentEditor,
    model,
    editorOptions: { config: { readOnly: true, lineNumbers: true } }
  });
  editor.addClass('muscode-Snapshot-editor');
  editor.disposed.connect(() => model.dispose());
  box.addWidget(editor);
  return box;
}

/** A main-area widget with the graded files of `submission`, read-only. */
export function createSnapshot(
  trans: TranslationBundle,
  submission: Submission,
  files: SubmissionFile[],
  services: IEditorServices | null
): MainAreaWidget<Panel> {
  const content = new Panel();
  content.addClass('muscode-Snapshot');
  content.addClass('muscode-View');
  content.node.setAttribute('aria-label', snapshotTitle(trans, submission));
  content.addWidget(
    textBlock(
      'muscode-Snapshot-intro',
      trans.__(
        'Exactly what %1 submitted in attempt %2 (%3) and what was graded; read-only.',
        submission.student,
        String(submission.attempt),
        formatWhen(submission.submitted_at)
      )
    )
  );
  if (!files.length) {
    content.addWidget(textBlock('muscode-Empty', trans.__('This attempt has no files.')));
  }
  for (const f of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    content.addWidget(fileWidget(f, trans, services));
  }
  const widget = new MainAreaWidget({ content });
  widget.id = snapshotId(submission);
  widget.title.label = snapshotTitle(trans, submission);
  widget.title.caption = trans.__('%1 (read-only)', widget.title.label);
  widget.title.closable = true;
  widget.addClass('muscode-mod-review');
  widget.addClass('muscode-ViewWidget');
  return widget;
}
