/**
 * The editor's lists of files: the starter files students begin with and the
 * reference solution staff check the tests against. Both are a path and a content
 * per file; they differ only in their words, class names and field names.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { StarterFile } from '../types';
import { ListEditor, TextField } from './fields';

/** Which list: its field in the request body, and its class name stem. */
export type FilesKind = 'starter' | 'reference';

/** The words and class names of one kind of list. */
interface IFilesText {
  /** The request body's field (problems are named `<field>[i].path`). */
  field: string;
  /** Class name stem: `muscode-Editor-<stem>Path`, `…Content`, `…-add<Stem>`. */
  stem: 'file' | 'reference';
  className: string;
  legend: string;
  empty: string;
  addLabel: string;
  removeLabel: (name: string) => string;
  path: string;
  content: string;
}

function textOf(trans: TranslationBundle, kind: FilesKind): IFilesText {
  if (kind === 'starter') {
    return {
      field: 'starter_files',
      stem: 'file',
      className: 'muscode-Editor-files',
      legend: trans.__('Starter files'),
      empty: trans.__('None: students start with an empty project.'),
      addLabel: trans.__('Add a starter file'),
      removeLabel: name => trans.__('Remove file %1', name),
      path: trans.__('Path'),
      content: trans.__('Content')
    };
  }
  return {
    field: 'reference_files',
    stem: 'reference',
    className: 'muscode-Editor-reference',
    legend: trans.__('Reference solution (staff only; students never see it)'),
    empty: trans.__('None: add the files of a solution to check the tests against.'),
    addLabel: trans.__('Add a reference file'),
    removeLabel: name => trans.__('Remove reference file %1', name),
    path: trans.__('Reference path'),
    content: trans.__('Reference content')
  };
}

/** A list of files (path and content each), with add and remove. */
export function FilesField(props: {
  trans: TranslationBundle;
  kind: FilesKind;
  files: StarterFile[];
  onChange: (files: StarterFile[]) => void;
  /** The path a new file gets ('' to let the user name it). */
  newPath: () => string;
  problem: (field: string) => string | undefined;
}): JSX.Element {
  const { trans, files, onChange, problem } = props;
  const text = textOf(trans, props.kind);
  const upper = text.stem[0].toUpperCase() + text.stem.slice(1);
  return (
    <ListEditor
      className={text.className}
      legend={text.legend}
      empty={text.empty}
      items={files}
      onChange={onChange}
      removeClassName={`muscode-Editor-remove${upper}`}
      removeLabel={(f, i) => text.removeLabel(f.path || String(i + 1))}
      addClassName={`muscode-Editor-add${upper}`}
      addLabel={text.addLabel}
      onAdd={() => onChange([...files, { path: props.newPath(), content: '' }])}
    >
      {(f, update, i) => (
        <>
          <TextField
            label={text.path}
            problem={problem(`${text.field}[${i}].path`)}
            className={`muscode-Editor-${text.stem}Path`}
            value={f.path}
            onValue={path => update({ path })}
          >
            {c => <input {...c} type="text" />}
          </TextField>
          <TextField
            label={text.content}
            problem={problem(`${text.field}[${i}].content`)}
            className={`muscode-Editor-${text.stem}Content muscode-Code`}
            value={f.content}
            onValue={content => update({ content })}
          >
            {c => <textarea {...c} rows={5} spellCheck={false} />}
          </TextField>
        </>
      )}
    </ListEditor>
  );
}
