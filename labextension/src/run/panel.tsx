/**
 * The output panel of one file: Run / Stop, the language (available ones only),
 * stdin, the program's output with stdout and stderr told apart, and the verdict,
 * exit code, time and memory of the run.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

import type { ICapabilities } from '../client/capabilities';
import type { LanguageCatalog } from '../client/languages';
import { describeError } from '../request';
import type { ExecutionCreate } from '../types';
import { formatDuration, formatMemory, IChunk, ISummary, RunPhase } from './output';
import type { RunSession } from './session';
import { IChosenLanguage, runLanguage } from './language';
import { runOutcomeLabel } from './verdict';

export interface IRunPanelOptions {
  /** The document's path (with `MUSCode:` for drive files). */
  path: string;
  session: RunSession;
  catalog: () => LanguageCatalog;
  capabilities: () => ICapabilities;
  /** Emitted when languages or capabilities were (re)loaded. */
  serverChanged: ISignal<object, void>;
  /** The request body for a run of the document in `language`. */
  buildRequest: (language: string) => Promise<ExecutionCreate>;
  trans: TranslationBundle;
}

function phaseLabel(trans: TranslationBundle, phase: RunPhase): string {
  switch (phase) {
    case 'starting':
      return trans.__('Starting…');
    case 'queued':
      return trans.__('Waiting in the queue…');
    case 'running':
      return trans.__('Running…');
    case 'done':
      return trans.__('Finished');
    case 'failed':
      return trans.__('Could not run');
    default:
      return trans.__('Not run yet');
  }
}

let panelCounter = 0;

export class RunPanel extends ReactWidget {
  constructor(options: IRunPanelOptions) {
    super();
    panelCounter += 1;
    this._uid = `muscode-run-${panelCounter}`;
    this._options = options;
    this.addClass('muscode-RunPanel');
    this.id = this._uid;
    const name = options.path.split(/[/:]/).pop() ?? options.path;
    this.title.label = options.trans.__('Run: %1', name);
    this.title.caption = options.trans.__('MUSCode output of %1', options.path);
    this.title.closable = true;
    this.node.setAttribute('aria-label', this.title.caption);
    options.session.model.changed.connect(this.onChange, this);
    options.session.stateChanged.connect(this.onChange, this);
    options.serverChanged.connect(this.onServerChanged, this);
  }

  get path(): string {
    return this._options.path;
  }

  set path(value: string) {
    this._options.path = value;
    const name = value.split(/[/:]/).pop() ?? value;
    this.title.label = this._options.trans.__('Run: %1', name);
    // a new name may call for another language (main.c renamed main.py)
    this.update();
  }

  get session(): RunSession {
    return this._options.session;
  }

  /**
   * The language this panel runs its file in: the file's own, by its extension,
   * unless the student picked another for this file (a new file name forgets it).
   */
  get language(): string {
    return runLanguage(this._options.catalog(), this.path, this._chosen);
  }

  /** Run the document with the chosen language and input. */
  async run(): Promise<void> {
    const { session, trans } = this._options;
    if (session.model.running) {
      return;
    }
    const language = this.language;
    const known = this._options.catalog().byId(language);
    if (!language || !known) {
      session.model.fail(
        trans.__('Choose a language: MUSCode does not know which one runs %1', this.path)
      );
      return;
    }
    if (!known.available) {
      session.model.fail(trans.__('%1 is not available on this MUSCode server', known.name));
      return;
    }
    let body: ExecutionCreate;
    try {
      body = await this._options.buildRequest(language);
    } catch (err) {
      if (err instanceof Error && err.name === 'ModalCancelError') {
        return;
      }
      session.model.fail(describeError(err));
      return;
    }
    this._judged = Boolean(
      (body.expected_output !== null && body.expected_output !== undefined) || body.tests?.length
    );
    const interactive = this._options.capabilities().stream && this._interactive;
    const stdin = this._stdin;
    if (interactive) {
      // what was in the box goes first; the box is then for what the program asks next
      this._stdin = '';
      this.update();
    }
    await session.run(body, { interactive: this._interactive, stdin });
  }

  async stop(): Promise<void> {
    await this._options.session.stop();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._options.session.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const { session, trans } = this._options;
    const model = session.model;
    const caps = this._options.capabilities();
    const catalog = this._options.catalog();
    const available = catalog.available;
    const stream = caps.stream;
    const running = model.running;
    const stopTitle = session.canStop
      ? trans.__('Stop the running program')
      : !stream && !caps.cancel
        ? trans.__(
            'Stopping a run needs the live channel, which this MUSCode server does not offer yet'
          )
        : trans.__('Nothing is running');
    const liveTitle = stream
      ? trans.__(
          'Type a line and press Enter to send it to the running program; Ctrl+D ends the input'
        )
      : trans.__(
          'Typing input while the program runs needs the live channel, which this MUSCode server does not offer yet: put the input in the box before you run'
        );
    const canSend = session.canSendInput;
    const language = this.language;
    const fileLanguage = catalog.forPath(this.path);
    const ids = {
      language: `${this._uid}-language`,
      stdin: `${this._uid}-stdin`,
      hint: `${this._uid}-hint`,
      output: `${this._uid}-output`
    };
    const summary = model.summary;
    const compile = model.compileOutput;
    const stderrText = model.text('stderr');
    return (
      <div
        className="muscode-RunPanel-body"
        data-execution-id={model.executionId ?? ''}
        data-phase={model.phase}
      >
        <div
          className="muscode-RunPanel-toolbar"
          role="toolbar"
          aria-label={trans.__('Run controls')}
        >
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept muscode-RunPanel-run"
            onClick={() => void this.run()}
            disabled={running}
            title={trans.__('Run %1 with MUSCode (Ctrl+Shift+Enter in the editor)', this.path)}
          >
            {trans.__('Run')}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-warn muscode-RunPanel-stop"
            onClick={() => void this.stop()}
            disabled={!session.canStop}
            aria-disabled={!session.canStop}
            title={stopTitle}
          >
            {trans.__('Stop')}
          </button>
          <label htmlFor={ids.language} className="muscode-RunPanel-label">
            {trans.__('Language')}
          </label>
          <select
            id={ids.language}
            className="jp-mod-styled muscode-RunPanel-language"
            value={language}
            disabled={running}
            onChange={e => {
              this._chosen = { path: this.path, id: e.currentTarget.value };
              this.update();
            }}
          >
            {!available.some(l => l.id === language) && (
              <option value="">{trans.__('Choose…')}</option>
            )}
            {available.map(l => (
              <option key={l.id} value={l.id}>
                {l.version ? `${l.name} ${l.version}` : l.name}
              </option>
            ))}
          </select>
          {fileLanguage && language && fileLanguage.id !== language && (
            <span className="muscode-RunPanel-languageNote">
              {trans.__('chosen for this file (its name says %1)', fileLanguage.name)}
            </span>
          )}
          <label
            className="muscode-RunPanel-check"
            title={
              stream
                ? trans.__('Send input while the program runs')
                : trans.__('Needs the live channel, which this MUSCode server does not offer yet')
            }
          >
            <input
              type="checkbox"
              className="muscode-RunPanel-interactive"
              checked={stream && this._interactive}
              disabled={!stream || running}
              onChange={e => {
                this._interactive = e.currentTarget.checked;
                this.update();
              }}
            />
            {trans.__('Interactive input')}
          </label>
          <button
            type="button"
            className="jp-mod-styled muscode-RunPanel-clear"
            onClick={() => session.model.reset()}
            disabled={running}
            title={trans.__('Clear the output')}
          >
            {trans.__('Clear')}
          </button>
          <span
            className={`muscode-RunPanel-phase muscode-phase-${model.phase}`}
            role="status"
            aria-live="polite"
          >
            {model.phase === 'starting' && session.link === 'waiting'
              ? trans.__('Running… (the output comes when it ends)')
              : phaseLabel(trans, model.phase)}
            {running && session.link === 'live' ? ` ${trans.__('(live)')}` : ''}
          </span>
        </div>
        {model.error && (
          <div className="muscode-RunPanel-error" role="alert">
            {model.error}
          </div>
        )}
        {model.warning && (
          <div className="muscode-RunPanel-warning" role="status">
            {model.warning}
          </div>
        )}
        {summary && (
          <dl className="muscode-RunPanel-summary" aria-label={trans.__('Result')}>
            <div>
              <dt>{trans.__('Verdict')}</dt>
              <dd className={`muscode-verdict muscode-verdict-${summary.verdict ?? 'none'}`}>
                {runOutcomeLabel(trans, {
                  verdict: summary.verdict,
                  exitCode: summary.exitCode,
                  signal: summary.signal,
                  judged: this._judged || Boolean(model.result?.tests?.length)
                })}
              </dd>
            </div>
            <SummaryItem label={trans.__('Exit code')} value={exitText(summary)} />
            <SummaryItem label={trans.__('CPU time')} value={formatDuration(summary.timeMs)} />
            <SummaryItem label={trans.__('Wall time')} value={formatDuration(summary.wallTimeMs)} />
            <SummaryItem label={trans.__('Memory')} value={formatMemory(summary.memoryKb)} />
            {summary.truncated && (
              <SummaryItem label={trans.__('Output')} value={trans.__('cut at the limit')} />
            )}
          </dl>
        )}
        {summary?.message && <p className="muscode-RunPanel-message">{summary.message}</p>}
        {compile && !stderrText.includes(compile.trim()) && (
          <section className="muscode-RunPanel-compile" aria-label={trans.__('Compiler output')}>
            <h3>{trans.__('Compiler output')}</h3>
            <pre>{compile}</pre>
          </section>
        )}
        <OutputView
          id={ids.output}
          chunks={model.chunks}
          label={trans.__('Program output')}
          empty={model.phase === 'idle' ? trans.__('Press Run to run %1.', this.path) : ''}
          clipped={model.clipped ? trans.__('[output cut: too much to show here]') : ''}
        />
        <div className="muscode-RunPanel-input">
          <label htmlFor={ids.stdin}>
            {canSend
              ? trans.__('Input for the running program (Enter sends a line)')
              : trans.__('Input for the program (stdin)')}
          </label>
          <textarea
            id={ids.stdin}
            ref={this._stdinRef}
            className="jp-mod-styled muscode-RunPanel-stdin"
            rows={3}
            value={this._stdin}
            spellCheck={false}
            aria-describedby={ids.hint}
            onChange={e => {
              this._stdin = e.currentTarget.value;
              this.update();
            }}
            onKeyDown={e => {
              if (!session.canSendInput) {
                return; // before a run, Enter is a new line of the input
              }
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault();
                this.sendLine();
              } else if (e.key === 'd' && e.ctrlKey) {
                e.preventDefault();
                this.sendEof();
              }
            }}
          />
          <div className="muscode-RunPanel-line" title={liveTitle}>
            <span id={ids.hint} className="muscode-RunPanel-waiting" role="status">
              {canSend ? waitingText(trans, model.idleMs) : ''}
            </span>
            <button
              type="button"
              className="jp-mod-styled muscode-RunPanel-send"
              disabled={!canSend}
              onClick={() => this.sendLine()}
            >
              {trans.__('Send')}
            </button>
            <button
              type="button"
              className="jp-mod-styled muscode-RunPanel-eof"
              disabled={!canSend}
              onClick={() => this.sendEof()}
              title={trans.__('End the input (EOF, Ctrl+D)')}
            >
              {trans.__('End input')}
            </button>
          </div>
        </div>
      </div>
    );
  }

  /** Send what is in the input box, as one line, to the running program. */
  private sendLine(): void {
    if (this._options.session.sendInput(`${this._stdin}\n`)) {
      this._stdin = '';
      this.update();
    }
  }

  /** End the program's input; what is in the box (no newline) goes first. */
  private sendEof(): void {
    const session = this._options.session;
    if (!session.canSendInput) {
      return;
    }
    if (this._stdin) {
      session.sendInput(this._stdin);
      this._stdin = '';
    }
    session.sendEof();
    this.update();
  }

  private onChange(): void {
    const canSend = this._options.session.canSendInput;
    if (canSend && !this._couldSend) {
      // The program may read its input now: the one input box gets the focus.
      requestAnimationFrame(() => {
        if (this._options.session.canSendInput) {
          this._stdinRef.current?.focus();
        }
      });
    }
    this._couldSend = canSend;
    this.update();
  }

  private onServerChanged(): void {
    this.update();
  }

  private _options: IRunPanelOptions;
  private _uid: string;
  private _chosen: IChosenLanguage | null = null;
  private _stdin = '';
  private _interactive = true;
  private _judged = false;
  private _couldSend = false;
  private _stdinRef = React.createRef<HTMLTextAreaElement>();
}

/** What the input box's hint says while the program may be waiting for input. */
function waitingText(trans: TranslationBundle, idleMs: number | null): string {
  if (idleMs === null) {
    return trans.__('Waiting for input: type a line and press Enter.');
  }
  const minutes = idleMs / 60_000;
  const limit =
    minutes >= 1
      ? trans._n('%1 minute', '%1 minutes', Math.round(minutes), String(Math.round(minutes)))
      : trans._n(
          '%1 second',
          '%1 seconds',
          Math.round(idleMs / 1000),
          String(Math.round(idleMs / 1000))
        );
  return trans.__(
    'Waiting for input: type a line and press Enter (the program waits at most %1).',
    limit
  );
}

function exitText(summary: ISummary): string {
  if (summary.signal !== null && summary.signal !== undefined) {
    return `signal ${summary.signal}`;
  }
  return summary.exitCode === null || summary.exitCode === undefined
    ? '–'
    : String(summary.exitCode);
}

function SummaryItem(props: { label: string; value: string }): JSX.Element {
  return (
    <div>
      <dt>{props.label}</dt>
      <dd>{props.value}</dd>
    </div>
  );
}

function OutputView(props: {
  id: string;
  chunks: ReadonlyArray<IChunk>;
  label: string;
  empty: string;
  clipped: string;
}): JSX.Element {
  const ref = React.useRef<HTMLPreElement>(null);
  React.useLayoutEffect(() => {
    const node = ref.current;
    if (node) {
      node.scrollTop = node.scrollHeight;
    }
  });
  return (
    <pre
      id={props.id}
      ref={ref}
      className="muscode-RunPanel-output"
      role="log"
      aria-live="polite"
      aria-label={props.label}
      tabIndex={0}
    >
      {props.chunks.length === 0 && props.empty && (
        <span className="muscode-RunPanel-placeholder">{props.empty}</span>
      )}
      {props.chunks.map((c, i) => (
        <span key={i} className={`muscode-${c.kind}`} data-stream={c.kind}>
          {c.text}
        </span>
      ))}
      {props.clipped && <span className="muscode-RunPanel-placeholder">{props.clipped}</span>}
    </pre>
  );
}
