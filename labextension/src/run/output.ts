/**
 * The output model of one run: what the program printed (stdout and stderr kept
 * apart, in the order they arrived), what the user typed, the run's phase and result.
 *
 * It knows nothing about HTTP or the DOM: the run controller feeds it stream messages
 * or a finished result; the output panel renders it on `changed`.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { parseObject } from '../client/websocket';
import type {
  CellProgress,
  Execution,
  ExecutionStatus,
  StreamServerMessage,
  Verdict
} from '../types';

export type ChunkKind = 'stdout' | 'stderr' | 'stdin';

export interface IChunk {
  kind: ChunkKind;
  text: string;
}

/** Where a run is: before start, waiting in the queue, running, finished, or failed to run. */
export type RunPhase = 'idle' | 'starting' | 'queued' | 'running' | 'done' | 'failed';

/** Everything the panel shows under the output. */
export interface ISummary {
  verdict: Verdict;
  exitCode: number | null;
  signal: number | null;
  timeMs: number | null;
  wallTimeMs: number | null;
  memoryKb: number | null;
  message: string | null;
  truncated: boolean;
}

/** Default cap of the text kept in the browser (characters). */
export const DEFAULT_MAX_CHARS = 1_000_000;

export class OutputModel {
  constructor(options: { maxChars?: number } = {}) {
    this.maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  }

  readonly maxChars: number;

  /** Emitted after every change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get phase(): RunPhase {
    return this._phase;
  }

  get executionId(): string | null {
    return this._executionId;
  }

  get chunks(): ReadonlyArray<IChunk> {
    return this._chunks;
  }

  get result(): Execution | null {
    return this._result;
  }

  /** A readable sentence when the run could not be started or followed. */
  get error(): string | null {
    return this._error;
  }

  /**
   * What the server refused while the run goes on (input sent faster than the
   * program reads it, output past what the live channel keeps), or null.
   */
  get warning(): string | null {
    return this._warning;
  }

  /** Output dropped in the browser because it passed `maxChars`. */
  get clipped(): boolean {
    return this._clipped;
  }

  /** The compiler's messages, once known. */
  get compileOutput(): string {
    return this._result?.compile_output ?? '';
  }

  /**
   * Longest one wait for input may last in this run (ms), when the server said so
   * (on its status message, or in the run's limits); null when it did not.
   */
  get idleMs(): number | null {
    return this._idleMs;
  }

  /** A notebook run's cell running now (its index among all cells), or null. */
  get runningCell(): number | null {
    return this._runningCell;
  }

  /** How many cells of a notebook run have ended so far. */
  get cellsDone(): number {
    return this._cellsDone;
  }

  get running(): boolean {
    return this._phase === 'starting' || this._phase === 'queued' || this._phase === 'running';
  }

  /** All output of one kind, or of all kinds, as one string. */
  text(kind?: ChunkKind): string {
    return this._chunks
      .filter(c => kind === undefined || c.kind === kind)
      .map(c => c.text)
      .join('');
  }

  /** Forget the last run. */
  reset(): void {
    this._phase = 'idle';
    this._executionId = null;
    this._chunks = [];
    this._result = null;
    this._error = null;
    this._warning = null;
    this._clipped = false;
    this._size = 0;
    this._streamed = false;
    this._idleMs = null;
    this._runningCell = null;
    this._cellsDone = 0;
    this._changed.emit();
  }

  /** A new run is being submitted. */
  start(): void {
    this.reset();
    this._phase = 'starting';
    this._changed.emit();
  }

  /** The server accepted the run (queued, or already further along). */
  accepted(execution: Execution): void {
    this._executionId = execution.id;
    this._idleMs = idleLimit(execution.limits) ?? this._idleMs;
    if (execution.status === 'done') {
      this.finish(execution);
      return;
    }
    this._phase = execution.status;
    this._changed.emit();
  }

  setStatus(status: ExecutionStatus): void {
    if (this._phase === 'done' || this._phase === 'failed') {
      return;
    }
    if (status !== 'done') {
      this._phase = status;
      this._changed.emit();
    }
  }

  /** Apply one message of the live channel. */
  apply(message: StreamServerMessage): void {
    switch (message.type) {
      case 'status':
        if (typeof message.idle_ms === 'number') {
          this._idleMs = message.idle_ms;
        }
        this.setStatus(message.status);
        break;
      case 'stdout':
      case 'stderr':
        this._streamed = true;
        if (this._phase === 'queued' || this._phase === 'starting') {
          this._phase = 'running';
        }
        this.append(message.type, message.data);
        this._changed.emit();
        break;
      case 'cell':
        this.cellProgress(message);
        break;
      case 'done':
        this.finish(message.result);
        break;
      case 'error':
        if (endsRun(message)) {
          this.fail(message.message);
        } else {
          this._warning = message.message;
          this._changed.emit();
        }
        break;
    }
  }

  /** Echo what the user sent to the program, as a terminal would. */
  echoInput(text: string): void {
    this.append('stdin', text);
    this._changed.emit();
  }

  /**
   * The run finished. Output that did not come over the live channel (a run
   * without it) is taken from the result: stdout first, then stderr.
   */
  finish(result: Execution): void {
    this._executionId = result.id;
    this._result = result;
    if (!this._streamed) {
      const stdin = this._chunks.filter(c => c.kind === 'stdin');
      this._chunks = [];
      this._size = 0;
      for (const c of stdin) {
        this.append(c.kind, c.text);
      }
      this.append('stdout', result.stdout ?? '');
      this.append('stderr', result.stderr ?? '');
    }
    this._phase = result.status === 'done' ? 'done' : result.status;
    this._runningCell = null;
    this._changed.emit();
  }

  /** The run could not be started or followed; `message` says why. */
  fail(message: string): void {
    this._error = message;
    this._phase = 'failed';
    this._changed.emit();
  }

  /** Verdict, exit code, time and memory of the finished run. */
  get summary(): ISummary | null {
    const r = this._result;
    if (!r) {
      return null;
    }
    return {
      verdict: r.verdict,
      exitCode: r.exit_code,
      signal: r.signal,
      timeMs: r.time_ms,
      wallTimeMs: r.wall_time_ms,
      memoryKb: r.memory_kb,
      message: r.message,
      truncated: Boolean(r.truncated?.stdout || r.truncated?.stderr)
    };
  }

  private cellProgress(message: CellProgress): void {
    if (this._phase === 'done' || this._phase === 'failed') {
      return;
    }
    if (message.status === 'running') {
      this._runningCell = message.index;
      this._phase = 'running';
    } else {
      this._cellsDone += 1;
      if (this._runningCell === message.index) {
        this._runningCell = null;
      }
    }
    this._changed.emit();
  }

  private append(kind: ChunkKind, text: string): void {
    if (!text) {
      return;
    }
    let piece = text;
    if (this._size + piece.length > this.maxChars) {
      piece = piece.slice(0, Math.max(0, this.maxChars - this._size));
      this._clipped = true;
      if (!piece) {
        return;
      }
    }
    this._size += piece.length;
    const last = this._chunks[this._chunks.length - 1];
    if (last && last.kind === kind) {
      this._chunks[this._chunks.length - 1] = { kind, text: last.text + piece };
    } else {
      this._chunks.push({ kind, text: piece });
    }
  }

  private _changed = new Signal<this, void>(this);
  private _phase: RunPhase = 'idle';
  private _executionId: string | null = null;
  private _chunks: IChunk[] = [];
  private _result: Execution | null = null;
  private _error: string | null = null;
  private _warning: string | null = null;
  private _clipped = false;
  private _size = 0;
  private _streamed = false;
  private _idleMs: number | null = null;
  private _runningCell: number | null = null;
  private _cellsDone = 0;
}

/** `limits.idle_ms` of a run, if the server gave one. */
function idleLimit(limits: unknown): number | null {
  if (typeof limits !== 'object' || limits === null) {
    return null;
  }
  const idle = (limits as Record<string, unknown>).idle_ms;
  return typeof idle === 'number' && Number.isFinite(idle) && idle > 0 ? idle : null;
}

const VERDICTS: ReadonlyArray<Exclude<Verdict, null>> = [
  'accepted',
  'wrong_answer',
  'compile_error',
  'runtime_error',
  'time_limit_exceeded',
  'memory_limit_exceeded',
  'output_limit_exceeded',
  'cancelled',
  'internal_error'
];

function isVerdict(value: unknown): value is Verdict {
  return value === null || (typeof value === 'string' && (VERDICTS as string[]).includes(value));
}

function isExecution(value: unknown): value is Execution {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const v = value as Record<string, unknown>;
  return (
    typeof v.id === 'string' &&
    (v.status === 'queued' || v.status === 'running' || v.status === 'done') &&
    isVerdict(v.verdict)
  );
}

/** Read one message of the live channel; null for anything that is not one. */
export function parseStreamMessage(raw: string): StreamServerMessage | null {
  const m = parseObject(raw);
  if (m === null) {
    return null;
  }
  switch (m.type) {
    case 'status':
      if (m.status !== 'queued' && m.status !== 'running' && m.status !== 'done') {
        return null;
      }
      return typeof m.idle_ms === 'number' && Number.isFinite(m.idle_ms) && m.idle_ms > 0
        ? { type: 'status', status: m.status, idle_ms: m.idle_ms }
        : { type: 'status', status: m.status };
    case 'stdout':
    case 'stderr':
      return typeof m.data === 'string' ? { type: m.type, data: m.data } : null;
    case 'cell':
      return parseCell(m);
    case 'done':
      return isExecution(m.result) ? { type: 'done', result: m.result } : null;
    case 'error':
      return typeof m.message === 'string'
        ? {
            type: 'error',
            message: m.message,
            reason: typeof m.reason === 'string' ? m.reason : undefined
          }
        : null;
    default:
      return null;
  }
}

function parseCell(m: Record<string, unknown>): CellProgress | null {
  const { index, status } = m;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    return null;
  }
  if (status !== 'running' && status !== 'ok' && status !== 'error') {
    return null;
  }
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    type: 'cell',
    index,
    status,
    time_ms: typeof m.time_ms === 'number' ? m.time_ms : null,
    ename: text(m.ename),
    evalue: text(m.evalue)
  };
}

/**
 * Errors of a run's live channel after which the run goes on: the server dropped some
 * input or stopped keeping output for replay (docs/limits.md).
 */
const GOES_ON = new Set(['stdin_backlog_full', 'replay_full']);

/** Does this message of a run's live channel end it (its result, or a fatal error)? */
export function endsRun(message: StreamServerMessage): boolean {
  return (
    message.type === 'done' || (message.type === 'error' && !GOES_ON.has(message.reason ?? ''))
  );
}

/** Milliseconds as "0.12 s" or "850 ms". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '–';
  }
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** Kilobytes as "812 KB" or "12.3 MB". */
export function formatMemory(kb: number | null | undefined): string {
  if (kb === null || kb === undefined) {
    return '–';
  }
  return kb >= 1024 ? `${(kb / 1024).toFixed(1)} MB` : `${Math.round(kb)} KB`;
}
