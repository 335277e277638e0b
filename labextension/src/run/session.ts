/**
 * One run at a time for one output panel: submit, follow, feed stdin, stop.
 *
 * With the live channel (`GET /executions/{id}/stream` listed in the server's
 * OpenAPI document) output streams in as it is printed and the user can type stdin
 * and stop the run. Without it (or when its websocket cannot be opened) the run is
 * submitted with `wait=true` and its result shown when it is done.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICapabilities } from '../client/capabilities';
import type { MuscodeClient } from '../client/client';
import { closeQuietly } from '../client/websocket';
import { describeError } from '../request';
import type { Execution, ExecutionCreate, StreamClientMessage } from '../types';
import { endsRun, OutputModel, parseStreamMessage } from './output';

export interface IRunOptions {
  /** Send stdin over the live channel while the program runs. */
  interactive: boolean;
  /** Input given at the start (sent first when interactive). */
  stdin: string;
}

export interface IRunSessionOptions {
  /** The current API client (it changes with the server URL setting). */
  client: () => MuscodeClient;
  model: OutputModel;
  capabilities: () => ICapabilities;
  /** Called once the live channel turned out not to work on this server. */
  onStreamUnavailable?: () => void;
  /** Seconds the server may hold a `wait=true` request. */
  waitTimeout?: number;
  /** First poll interval in ms (it grows to 2 s). */
  pollInterval?: number;
  /** Wait at most this long (ms) for a websocket to open. */
  connectTimeout?: number;
}

/** Where the current run's connection is. */
export type LinkState = 'none' | 'connecting' | 'live' | 'polling' | 'waiting';

const TERMINAL = new Set(['done']);

export class RunSession implements IDisposable {
  constructor(options: IRunSessionOptions) {
    this._options = options;
  }

  get model(): OutputModel {
    return this._options.model;
  }

  /** Emitted when `link`, `canSendInput` or `canStop` change. */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  get link(): LinkState {
    return this._link;
  }

  /** The program can be sent input now. */
  get canSendInput(): boolean {
    return this._link === 'live' && this._interactive && this.model.running && !this._eofSent;
  }

  /** The run can be stopped now. */
  get canStop(): boolean {
    if (!this.model.running || !this.model.executionId) {
      return false;
    }
    return this._link === 'live' || this._options.capabilities().cancel;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.closeSocket();
    Signal.clearData(this);
  }

  /** Submit `body` and follow the run until it is done. Never rejects. */
  async run(body: ExecutionCreate, options: IRunOptions): Promise<void> {
    this.closeSocket();
    this._generation++;
    const generation = this._generation;
    const model = this.model;
    model.start();
    this._eofSent = false;
    const caps = this._options.capabilities();
    const live = caps.stream;
    this._interactive = live && options.interactive;
    try {
      if (live) {
        const reply = await this._options.client().createExecution({
          ...body,
          ...(this._interactive ? { interactive: true } : { stdin: options.stdin })
        });
        if (generation !== this._generation) {
          return;
        }
        model.accepted(reply.body);
        this.setLink('connecting');
        const opened = await this.follow(reply.body.id, generation);
        if (opened && this._interactive && options.stdin) {
          this.sendInput(options.stdin);
        }
        if (!opened && generation === this._generation && model.running) {
          this._options.onStreamUnavailable?.();
          await this.poll(reply.body.id, generation);
        }
      } else if (caps.cancel) {
        // No live channel, but runs can be stopped: submit without waiting (so the
        // run's id is known at once) and poll for the result.
        const reply = await this._options.client().createExecution({
          ...body,
          stdin: options.stdin
        });
        if (generation !== this._generation) {
          return;
        }
        model.accepted(reply.body);
        if (reply.body.status !== 'done') {
          await this.poll(reply.body.id, generation);
        }
      } else {
        this.setLink('waiting');
        const reply = await this._options
          .client()
          .createExecution(
            { ...body, stdin: options.stdin },
            { wait: true, timeout: this._options.waitTimeout ?? 60 }
          );
        if (generation !== this._generation) {
          return;
        }
        model.accepted(reply.body);
        if (reply.body.status !== 'done') {
          await this.poll(reply.body.id, generation);
        }
      }
    } catch (err) {
      if (generation === this._generation) {
        model.fail(describeError(err));
      }
    } finally {
      if (generation === this._generation && !this.model.running) {
        this.setLink('none');
      }
    }
  }

  /** Send a piece of input (add the newline yourself). */
  sendInput(text: string): boolean {
    if (!this.canSendInput) {
      return false;
    }
    this.send({ type: 'stdin', data: text });
    this.model.echoInput(text);
    return true;
  }

  /** Close the program's stdin. */
  sendEof(): boolean {
    if (!this.canSendInput) {
      return false;
    }
    this.send({ type: 'eof' });
    this._eofSent = true;
    this._stateChanged.emit();
    return true;
  }

  /** Stop the run: over the live channel, else with `POST /executions/{id}/cancel`. */
  async stop(): Promise<void> {
    const id = this.model.executionId;
    if (!id || !this.model.running) {
      return;
    }
    if (this._link === 'live' && this._socket) {
      this.send({ type: 'cancel' });
      return;
    }
    if (this._options.capabilities().cancel) {
      try {
        const result = await this._options.client().cancelExecution(id);
        if (result.status === 'done') {
          this.model.finish(result);
        }
      } catch (err) {
        this.model.fail(describeError(err));
      }
    }
  }

  /**
   * Follow a run over its websocket. Resolves true once it has opened (and keeps
   * following), false when it could not be opened at all.
   */
  private follow(id: string, generation: number): Promise<boolean> {
    const client = this._options.client();
    return new Promise<boolean>(resolve => {
      let opened = false;
      let settled = false;
      const settle = (value: boolean) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(value);
        }
      };
      let socket: WebSocket;
      try {
        socket = client.openSocket(client.streamUrl(id));
      } catch {
        settle(false);
        return;
      }
      this._socket = socket;
      const timer = setTimeout(() => {
        if (!opened) {
          socket.close();
          settle(false);
        }
      }, this._options.connectTimeout ?? 10_000);
      socket.onopen = () => {
        opened = true;
        if (generation === this._generation) {
          this.setLink('live');
        }
        settle(true);
      };
      socket.onmessage = (event: MessageEvent) => {
        if (generation !== this._generation || typeof event.data !== 'string') {
          return;
        }
        const message = parseStreamMessage(event.data);
        if (!message) {
          return;
        }
        this.model.apply(message);
        if (endsRun(message)) {
          this.closeSocket();
          this.setLink('none');
        } else {
          this._stateChanged.emit();
        }
      };
      socket.onclose = () => {
        if (this._socket === socket) {
          this._socket = null;
        }
        if (!opened) {
          settle(false);
          return;
        }
        // Closed before the result came: fetch it instead.
        if (generation === this._generation && this.model.running) {
          void this.poll(id, generation).catch(err => this.model.fail(describeError(err)));
        }
      };
      socket.onerror = () => {
        // onclose follows and decides
      };
    });
  }

  private async poll(id: string, generation: number): Promise<void> {
    this.setLink('polling');
    let delay = this._options.pollInterval ?? 300;
    const deadline = Date.now() + 15 * 60 * 1000;
    while (generation === this._generation && !this._disposed && Date.now() < deadline) {
      await sleep(delay);
      delay = Math.min(2000, delay * 1.5);
      // stopped meanwhile (the cancel reply carried the result), or a new run began
      if (generation !== this._generation || this._disposed || !this.model.running) {
        return;
      }
      const run: Execution = await this._options.client().getExecution(id);
      if (TERMINAL.has(run.status)) {
        this.model.finish(run);
        this.setLink('none');
        return;
      }
      this.model.setStatus(run.status);
    }
    if (generation === this._generation && this.model.running) {
      this.model.fail('Gave up waiting for the result of this run');
    }
  }

  private send(message: StreamClientMessage): void {
    this._socket?.send(JSON.stringify(message));
  }

  private closeSocket(): void {
    closeQuietly(this._socket);
    this._socket = null;
  }

  private setLink(link: LinkState): void {
    if (this._link !== link) {
      this._link = link;
      this._stateChanged.emit();
    }
  }

  private _options: IRunSessionOptions;
  private _stateChanged = new Signal<this, void>(this);
  private _socket: WebSocket | null = null;
  private _link: LinkState = 'none';
  private _generation = 0;
  private _interactive = false;
  private _eofSent = false;
  private _disposed = false;
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}
