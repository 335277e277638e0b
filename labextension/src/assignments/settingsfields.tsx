/**
 * The editor's settings of an assignment: title, description, language, due date,
 * attempts, late policy and whether students see it.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { Language, LateMode } from '../types';
import { TextField } from './fields';
import { IAssignmentForm } from './model';

export function SettingsFields(props: {
  trans: TranslationBundle;
  form: IAssignmentForm;
  /** The languages to choose from (the assignment's own too, even when unavailable). */
  languages: Language[];
  set: <K extends keyof IAssignmentForm>(key: K, value: IAssignmentForm[K]) => void;
  problem: (field: string) => string | undefined;
}): JSX.Element {
  const { trans, form, set, problem } = props;
  return (
    <>
      <TextField
        label={trans.__('Title')}
        problem={problem('title')}
        className="muscode-Editor-title"
        value={form.title}
        onValue={v => set('title', v)}
      >
        {c => <input {...c} type="text" maxLength={255} required />}
      </TextField>
      <TextField
        label={trans.__('Description (Markdown)')}
        problem={problem('description')}
        className="muscode-Editor-description"
        value={form.description}
        onValue={v => set('description', v)}
      >
        {c => <textarea {...c} rows={6} />}
      </TextField>
      <div className="muscode-Editor-row">
        <TextField
          label={trans.__('Language')}
          problem={problem('language')}
          className="muscode-Editor-language"
          value={form.language}
          onValue={v => set('language', v)}
        >
          {c => (
            <select {...c}>
              {props.languages.map(l => (
                <option key={l.id} value={l.id}>
                  {l.version ? `${l.name} (${l.version})` : l.name}
                </option>
              ))}
            </select>
          )}
        </TextField>
        <TextField
          label={trans.__('Due (your local time; empty: none)')}
          problem={problem('due_at')}
          className="muscode-Editor-due"
          value={form.due}
          onValue={v => set('due', v)}
        >
          {c => <input {...c} type="datetime-local" />}
        </TextField>
        <TextField
          label={trans.__('Max attempts (empty: no limit)')}
          problem={problem('max_attempts')}
          className="muscode-Editor-maxAttempts"
          value={form.maxAttempts}
          onValue={v => set('maxAttempts', v)}
        >
          {c => <input {...c} type="number" min={1} step={1} />}
        </TextField>
      </div>
      <div className="muscode-Editor-row">
        <TextField
          label={trans.__('Late submissions')}
          problem={problem('late_policy')}
          className="muscode-Editor-lateMode"
          value={form.lateMode}
          onValue={v => set('lateMode', v as LateMode)}
        >
          {c => (
            <select {...c}>
              <option value="accept">{trans.__('Accept, marked late')}</option>
              <option value="penalty">{trans.__('Penalty per day late')}</option>
              <option value="no_credit">{trans.__('No credit')}</option>
            </select>
          )}
        </TextField>
        {form.lateMode === 'penalty' && (
          <TextField
            label={trans.__('Penalty per day (%)')}
            problem={problem('late_policy.penalty_per_day')}
            className="muscode-Editor-penalty"
            value={form.penaltyPerDay}
            onValue={v => set('penaltyPerDay', v)}
          >
            {c => <input {...c} type="number" min={0} max={100} step="any" />}
          </TextField>
        )}
        <label className="muscode-Check-label muscode-Editor-published">
          <input
            type="checkbox"
            checked={form.published}
            onChange={e => set('published', e.currentTarget.checked)}
          />
          {trans.__('Published (students see it)')}
        </label>
      </div>
    </>
  );
}
