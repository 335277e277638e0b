import { nullTranslator } from '@jupyterlab/translation';
import { describe, expect, it } from 'vitest';

import { DEFAULT_SETTINGS, ServerState } from '../src/client/server';
import { FakeServer } from './fakeserver';

const trans = nullTranslator.load('muscode');
const DOCUMENT = [
  'openapi: 3.1.0',
  'paths:',
  '  /languages:',
  '    get: {}',
  '  /events:',
  '    get: {}',
  '  /executions/{execution_id}/stream:',
  '    get: {}',
  ''
].join('\n');

const ADA = { name: 'ada', admin: false, scopes: ['execute', 'projects'], classes: [] };

/** A server that serves its document and says who the caller is. */
function serve(me: { status: number; body: unknown } = { status: 200, body: ADA }): FakeServer {
  return new FakeServer()
    .on('GET', /^\/openapi\.yaml$/, () => ({
      status: 200,
      text: DOCUMENT,
      contentType: 'application/yaml'
    }))
    .on('GET', /^\/me$/, () => me);
}

/** Count a signal's emissions. */
function counter(signal: { connect: (slot: () => void) => unknown }): { n: number } {
  const seen = { n: 0 };
  signal.connect(() => {
    seen.n += 1;
  });
  return seen;
}

describe('the server state', () => {
  it('reads languages, capabilities and the caller, then says so', async () => {
    const server = serve();
    const state = new ServerState(trans, () => server.settings());
    const changed = counter(state.changed);
    expect(state.status).toBe('');
    await state.refresh();
    expect(state.catalog.available.map(l => l.id)).toEqual(['python']);
    expect(state.capabilities.events).toBe(true);
    expect(state.capabilities.stream).toBe(true);
    expect(state.capabilities.classes).toBe(false);
    expect(state.me?.name).toBe('ada');
    expect(state.status).toBe('Signed in as ada. Runs Python.');
    expect(changed.n).toBe(1);
  });

  it("shows the server's sentence when it refuses the caller", async () => {
    const server = serve({
      status: 403,
      body: { message: 'Your token does not allow this', reason: 'forbidden' }
    });
    const state = new ServerState(trans, () => server.settings());
    await state.refresh();
    expect(state.me).toBeNull();
    expect(state.status).toBe('Your token does not allow this');
    // what could be read still is
    expect(state.capabilities.events).toBe(true);
  });

  it('keeps this server and names a wrong serverUrl', async () => {
    const server = serve();
    const state = new ServerState(trans, () => server.settings());
    state.configure({ ...DEFAULT_SETTINGS, serverUrl: 'ftp://elsewhere.test/' });
    expect(state.client.settings.baseUrl).toBe('http://lab.test/base/');
    await state.refresh();
    expect(state.status).toMatch(/^The serverUrl setting is wrong: serverUrl must be an http/);
  });

  it('takes new settings: a client for the new server, then reconfigured', async () => {
    const server = serve();
    const state = new ServerState(trans, () => server.settings());
    expect(state.defaultLanguage).toBe('python');
    expect(state.waitTimeout).toBe(60);
    const order: string[] = [];
    state.changed.connect(() => order.push('changed'));
    state.reconfigured.connect(() => order.push('reconfigured'));
    await state.reconfigure({
      serverUrl: 'https://muscode.test/',
      defaultLanguage: 'java',
      waitTimeout: 5
    });
    expect(state.client.settings.baseUrl).toBe('https://muscode.test/');
    // another server: this server's token stays here
    expect(state.client.settings.token).toBe('');
    expect(state.defaultLanguage).toBe('java');
    expect(state.waitTimeout).toBe(5);
    expect(order).toEqual(['changed', 'reconfigured']);
  });

  it('turns the live channel off once, when it would not open', async () => {
    const server = serve();
    const state = new ServerState(trans, () => server.settings());
    await state.refresh();
    const changed = counter(state.changed);
    state.streamUnavailable();
    state.streamUnavailable();
    expect(state.capabilities.stream).toBe(false);
    expect(state.capabilities.events).toBe(true);
    expect(changed.n).toBe(1);
  });
});
