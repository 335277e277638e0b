/**
 * The "New project" dialog of the side panel.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { Language, ProjectCreate } from '../types';
import { field } from '../ui/dialogs';

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
