/**
 * The dialogs of MUSCode, all built on JupyterLab's `Dialog` (focus trap, Escape,
 * Enter, theme) with labelled form fields.
 */
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { ConflictChoice, IConflict } from './drive';
import type { Language, ProjectCreate, ScoreOverride, Submission } from './types';

let counter = 0;
function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

function field(
  parent: HTMLElement,
  labelText: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement
): void {
  const id = uid('muscode-field');
  const label = document.createElement('label');
  label.htmlFor = id;
  label.textContent = labelText;
  control.id = id;
  parent.append(label, control);
}

/** "New project": name, language (available ones only) and description. */
class ProjectForm extends Widget implements Dialog.IBodyWidget<ProjectCreate> {
  constructor(trans: TranslationBundle, languages: Language[], language: string) {
    super();
    this.addClass('muscode-Form');
    this._name = document.createElement('input');
    this._name.type = 'text';
    this._name.required = true;
    this._name.maxLength = 100;
    this._name.placeholder = trans.__('e.g. hello-world');
    this._name.classList.add('jp-mod-styled', 'muscode-Form-name');
    this._language = document.createElement('select');
    this._language.classList.add('jp-mod-styled', 'muscode-Form-language');
    for (const l of languages) {
      const option = document.createElement('option');
      option.value = l.id;
      option.textContent = l.version ? `${l.name} (${l.version})` : l.name;
      option.selected = l.id === language;
      this._language.append(option);
    }
    this._description = document.createElement('textarea');
    this._description.rows = 2;
    this._description.classList.add('jp-mod-styled', 'muscode-Form-description');
    field(this.node, trans.__('Project name'), this._name);
    field(this.node, trans.__('Language'), this._language);
    field(this.node, trans.__('Description (optional)'), this._description);
  }

  getValue(): ProjectCreate {
    return {
      name: this._name.value.trim(),
      language: this._language.value,
      description: this._description.value
    };
  }

  private _name: HTMLInputElement;
  private _language: HTMLSelectElement;
  private _description: HTMLTextAreaElement;
}

export async function askNewProject(
  trans: TranslationBundle,
  languages: Language[],
  language: string
): Promise<ProjectCreate | null> {
  const result = await showDialog({
    title: trans.__('New MUSCode project'),
    body: new ProjectForm(trans, languages, language),
    focusNodeSelector: 'input',
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Create') })
    ]
  });
  if (!result.button.accept || !result.value || !result.value.name) {
    return null;
  }
  return result.value;
}

export async function askText(
  trans: TranslationBundle,
  title: string,
  label: string,
  text = '',
  placeholder = ''
): Promise<string | null> {
  const result = await InputDialog.getText({
    title,
    label,
    text,
    placeholder,
    okLabel: trans.__('OK'),
    cancelLabel: trans.__('Cancel')
  });
  const value = result.value?.trim();
  return result.button.accept && value ? value : null;
}

export async function confirm(
  trans: TranslationBundle,
  title: string,
  body: string,
  acceptLabel: string
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: acceptLabel })
    ]
  });
  return result.button.accept;
}

/** Stale save: reload the server's version, overwrite it, or keep editing. */
export async function askConflict(
  trans: TranslationBundle,
  conflict: IConflict
): Promise<ConflictChoice> {
  const body = document.createElement('div');
  body.className = 'muscode-ConflictBody';
  const p1 = document.createElement('p');
  p1.textContent =
    conflict.baseVersion === null
      ? trans.__(
          '"%1" already exists on the MUSCode server (version %2).',
          conflict.path,
          String(conflict.current.version)
        )
      : trans.__(
          '"%1" was saved from somewhere else since you opened it: the server has version %2, your editor is based on version %3.',
          conflict.path,
          String(conflict.current.version),
          String(conflict.baseVersion)
        );
  const p2 = document.createElement('p');
  p2.textContent = trans.__(
    'Reload to get the server version (your unsaved changes here are dropped), Overwrite to replace it with yours, or Cancel to keep editing without saving.'
  );
  body.append(p1, p2);
  const widget = new Widget({ node: body });
  const result = await showDialog({
    title: trans.__('File changed on the server'),
    body: widget,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel'), actions: ['cancel'] }),
      Dialog.okButton({ label: trans.__('Reload'), actions: ['reload'] }),
      Dialog.warnButton({ label: trans.__('Overwrite'), actions: ['overwrite'] })
    ],
    defaultButton: 0
  });
  if (result.button.actions.includes('overwrite')) {
    return 'overwrite';
  }
  if (result.button.actions.includes('reload')) {
    return 'reload';
  }
  return 'cancel';
}

/** Show a MUSCode error as a dialog with the server's own sentence. */
export async function showError(
  trans: TranslationBundle,
  title: string,
  message: string
): Promise<void> {
  await showDialog({
    title,
    body: message,
    buttons: [Dialog.okButton({ label: trans.__('OK') })]
  });
}

/** Override a submission's score: a number of points and a comment. */
class OverrideForm extends Widget implements Dialog.IBodyWidget<ScoreOverride> {
  constructor(trans: TranslationBundle, submission: Submission) {
    super();
    this.addClass('muscode-Form');
    const intro = document.createElement('p');
    intro.textContent = trans.__(
      'Attempt %1 of %2: the tests gave %3 of %4 points.',
      String(submission.attempt),
      submission.student,
      String(submission.raw_score ?? '–'),
      String(submission.max_score)
    );
    this.node.append(intro);
    this._score = document.createElement('input');
    this._score.type = 'number';
    this._score.min = '0';
    this._score.step = 'any';
    this._score.required = true;
    this._score.classList.add('jp-mod-styled', 'muscode-Override-score');
    this._score.value = String(submission.override?.score ?? submission.score ?? '');
    this._comment = document.createElement('textarea');
    this._comment.rows = 3;
    this._comment.maxLength = 2000;
    this._comment.classList.add('jp-mod-styled', 'muscode-Override-comment');
    this._comment.value = submission.override?.comment ?? '';
    field(this.node, trans.__('Score (points)'), this._score);
    field(this.node, trans.__('Comment for the student'), this._comment);
  }

  getValue(): ScoreOverride {
    const raw = this._score.value.trim();
    const score = raw === '' ? Number.NaN : Number(raw);
    return { score: Number.isFinite(score) ? score : null, comment: this._comment.value };
  }

  private _score: HTMLInputElement;
  private _comment: HTMLTextAreaElement;
}

/**
 * Ask for a score override. Resolves with the override to send (`score: null`
 * clears one), or null when the user cancelled or gave no valid score.
 */
export async function askOverride(
  trans: TranslationBundle,
  submission: Submission
): Promise<ScoreOverride | null> {
  const buttons = [
    Dialog.cancelButton({ label: trans.__('Cancel') }),
    Dialog.okButton({ label: trans.__('Set score'), actions: ['set'] })
  ];
  if (submission.override) {
    buttons.splice(
      1,
      0,
      Dialog.warnButton({ label: trans.__('Clear override'), actions: ['clear'] })
    );
  }
  const result = await showDialog({
    title: trans.__('Override the score of %1', submission.student),
    body: new OverrideForm(trans, submission),
    focusNodeSelector: 'input',
    buttons
  });
  if (result.button.actions.includes('clear')) {
    return { score: null };
  }
  if (!result.button.accept || !result.value || result.value.score === null) {
    return null;
  }
  return result.value;
}
