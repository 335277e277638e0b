/**
 * The small dialogs every MUSCode feature uses, built on JupyterLab's `Dialog` (focus
 * trap, Escape, Enter, theme), and `field()` for the labelled fields of the forms.
 */
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';

let counter = 0;
function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** Append a label and its control to `parent`, tied by a fresh id. */
export function field(
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
