/**
 * Small pieces of the assignment views: messages, table heads, dates and late
 * policies in words, Markdown, the regrade progress bar, and downloads.
 */
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { Assignment, Submission } from '../types';
import { formatPoints, IProgress, plural, StudentStatus } from './model';

export function ErrorBox(props: { message: string | null }): JSX.Element | null {
  return props.message ? (
    <div className="muscode-Error" role="alert">
      {props.message}
    </div>
  ) : null;
}

/** A short, polite report of what just happened (nothing when empty). */
export function Note(props: { text: string }): JSX.Element | null {
  return props.text ? (
    <p className="muscode-Note" role="status">
      {props.text}
    </p>
  ) : null;
}

/** A table's header row; a `false` column is left out. */
export function TableHead(props: { columns: (string | false)[] }): JSX.Element {
  return (
    <thead>
      <tr>
        {props.columns.map(
          label =>
            label !== false && (
              <th scope="col" key={label}>
                {label}
              </th>
            )
        )}
      </tr>
    </thead>
  );
}

/** `1 point`, `2 points`, `1.5 points`. */
export function pointsText(trans: TranslationBundle, points: number): string {
  // `_n` puts its count itself in %1: points are not always whole, so say it here
  return points === 1 ? trans.__('1 point') : trans.__('%1 points', formatPoints(points));
}

export function formatWhen(iso: string | null | undefined): string {
  if (!iso) {
    return '–';
  }
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function dueText(trans: TranslationBundle, due: string | null): string {
  return due ? trans.__('Due %1', formatWhen(due)) : trans.__('No due date');
}

export function statusLabel(trans: TranslationBundle, status: StudentStatus): string {
  switch (status) {
    case 'not_started':
      return trans.__('Not started');
    case 'started':
      return trans.__('Started');
    case 'submitted':
      return trans.__('Submitted');
  }
}

export function lateText(trans: TranslationBundle, s: Submission): string {
  return s.days_late > 0
    ? trans._n('late by %1 day', 'late by %1 days', s.days_late, String(s.days_late))
    : trans.__('late');
}

export function latePolicyText(trans: TranslationBundle, a: Assignment): string {
  switch (a.late_policy.mode) {
    case 'accept':
      return trans.__('Late submissions get full credit and are marked late.');
    case 'penalty':
      return trans.__(
        'Late submissions lose %1% of their score per started day late.',
        formatPoints(a.late_policy.penalty_per_day ?? 0)
      );
    case 'no_credit':
      return trans.__('Late submissions get no credit.');
  }
}

/** Save text as a file through the browser's download. */
export function downloadText(text: string, fileName: string, type = 'text/csv'): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Markdown rendered by JupyterLab's rendermime, untrusted (so sanitized). */
export function Markdown(props: {
  source: string;
  rendermime: IRenderMimeRegistry | null;
  label: string;
}): JSX.Element {
  const { source, rendermime } = props;
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    const host = ref.current;
    if (!rendermime || !host) {
      return;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    const model = new MimeModel({ data: { 'text/markdown': source }, trusted: false });
    let live = true;
    void renderer.renderModel(model).then(() => {
      if (live) {
        host.replaceChildren(renderer.node);
      }
    });
    return () => {
      live = false;
      renderer.dispose();
    };
  }, [source, rendermime]);
  if (!rendermime) {
    return (
      <pre className="muscode-Markdown muscode-Markdown-plain" aria-label={props.label}>
        {source}
      </pre>
    );
  }
  return <div ref={ref} className="muscode-Markdown" aria-label={props.label} />;
}

export function ProgressBar(props: {
  trans: TranslationBundle;
  progress: IProgress;
  label: string;
}): JSX.Element {
  const { trans, progress } = props;
  return (
    <div
      className="muscode-Progress"
      data-state={progress.finished ? 'done' : 'running'}
      role="group"
      aria-label={props.label}
    >
      <progress max={Math.max(progress.total, 1)} value={progress.total ? progress.done : 1} />
      <span className="muscode-Progress-text" role="status">
        {progress.finished
          ? trans.__(
              'Regraded %1 of %2.',
              String(progress.done),
              plural(progress.total, trans.__('submission'), trans.__('submissions'))
            )
          : trans.__('Regrading: %1 of %2 done…', String(progress.done), String(progress.total))}
      </span>
    </div>
  );
}
