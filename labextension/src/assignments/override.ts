/**
 * The dialog that sets a submission's score by hand (or clears the override).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { ScoreOverride, Submission } from '../types';
import { field } from '../ui/dialogs';

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
    // An override given against another maximum (the tests changed) is offered as the
    // same fraction of the new one, which the submission's score already is.
    const given = submission.override?.review ? submission.score : submission.override?.score;
    this._score.value = String(given ?? submission.score ?? '');
    if (submission.override?.review) {
      const review = document.createElement('p');
      review.className = 'muscode-Override-review';
      review.textContent = trans.__(
        'The tests changed since the override of %1 of %2 points: it is kept as %3 of %4. Set it again to confirm.',
        String(submission.override.score),
        String(submission.override.max),
        String(submission.score ?? '–'),
        String(submission.max_score)
      );
      this.node.append(review);
    }
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
