import { describe, expect, it, vi } from 'vitest';

import { MuscodeClient } from '../src/client/client';
import type { ConflictChoice, IConflict } from '../src/drive/conflict';
import { MuscodeDrive } from '../src/drive/drive';
import { splitPath, uniqueName } from '../src/drive/models';
import { FakeServer } from './fakeserver';

function setup(choice: ConflictChoice = 'cancel') {
  const server = new FakeServer();
  const asked: IConflict[] = [];
  const reload = vi.fn(async (_path: string) => undefined);
  const drive = new MuscodeDrive({
    client: new MuscodeClient(server.settings()),
    resolveConflict: async conflict => {
      asked.push(conflict);
      return choice;
    },
    reload,
    defaultLanguage: () => 'c'
  });
  const changes: string[] = [];
  drive.fileChanged.connect((_, args) => {
    changes.push(`${args.type}:${args.oldValue?.path ?? ''}>${args.newValue?.path ?? ''}`);
  });
  return { server, drive, asked, reload, changes };
}

describe('MuscodeDrive listing', () => {
  it('shows projects as folders and files by path, folders from paths', async () => {
    const { server, drive } = setup();
    server.addProject('hello', 'python', { 'main.py': 'print(1)', 'lib/util.py': 'x = 1' });
    server.addProject('other');
    const root = await drive.get('');
    expect(root.type).toBe('directory');
    expect((root.content as { name: string }[]).map(c => c.name)).toEqual(['hello', 'other']);
    const project = await drive.get('hello');
    const children = project.content as { name: string; type: string; path: string }[];
    expect(children.map(c => [c.name, c.type, c.path])).toEqual([
      ['main.py', 'file', 'hello/main.py'],
      ['lib', 'directory', 'hello/lib']
    ]);
    const lib = await drive.get('hello/lib');
    expect((lib.content as { path: string }[]).map(c => c.path)).toEqual(['hello/lib/util.py']);
  });

  it('gives a file with its text, and 404 for what is not there', async () => {
    const { server, drive } = setup();
    server.addProject('hello', 'python', { 'main.py': 'print("hi")\n' });
    const file = await drive.get('hello/main.py', { content: true, format: 'text' });
    expect(file).toMatchObject({ type: 'file', format: 'text', content: 'print("hi")\n' });
    const meta = await drive.get('hello/main.py', { content: false });
    expect(meta.content).toBeNull();
    await expect(drive.get('hello/nope.py')).rejects.toMatchObject({ status: 404 });
    await expect(drive.get('nope')).rejects.toMatchObject({ status: 404 });
    // JupyterLab's own code looks at error.response.status
    const err: unknown = await drive.get('nope').catch((e: unknown) => e);
    expect((err as { response?: Response }).response?.status).toBe(404);
  });
});

describe('MuscodeDrive saving', () => {
  it('saves with the version it loaded and keeps the new one', async () => {
    const { server, drive, asked, changes } = setup();
    server.addProject('hello', 'python', { 'main.py': 'v1' });
    await drive.get('hello/main.py', { content: true });
    await drive.save('hello/main.py', { type: 'file', format: 'text', content: 'v2' });
    await drive.save('hello/main.py', { type: 'file', format: 'text', content: 'v3' });
    const puts = server.requests.filter(r => r.method === 'PUT').map(r => r.body);
    expect(puts).toEqual([
      { content: 'v2', encoding: 'utf-8', version: 1 },
      { content: 'v3', encoding: 'utf-8', version: 2 }
    ]);
    expect(server.files[0].content).toBe('v3');
    expect(asked).toEqual([]);
    expect(changes).toContain('save:>hello/main.py');
  });

  it('refuses a chunked (over 1 MB) upload instead of saving a piece of it', async () => {
    const { server, drive } = setup();
    server.addProject('hello');
    await expect(
      drive.save('hello/big.bin', { type: 'file', format: 'base64', content: 'AAAA', chunk: 1 })
    ).rejects.toMatchObject({ status: 413, reason: 'file_too_large' });
    expect(server.files).toEqual([]);
  });

  it('creates a file that is not there yet', async () => {
    const { server, drive } = setup();
    server.addProject('hello');
    const model = await drive.save('hello/src/app.py', {
      type: 'file',
      format: 'text',
      content: 'x'
    });
    expect(model.path).toBe('hello/src/app.py');
    expect(server.files.map(f => [f.path, f.content])).toEqual([['src/app.py', 'x']]);
  });

  it('asks on a stale save and overwrites when told to', async () => {
    const { server, drive, asked } = setup('overwrite');
    server.addProject('hello', 'python', { 'main.py': 'v1' });
    await drive.get('hello/main.py', { content: true });
    server.changeElsewhere(server.files[0].id, 'theirs');
    await drive.save('hello/main.py', { type: 'file', format: 'text', content: 'mine' });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ path: 'hello/main.py', baseVersion: 1 });
    expect(asked[0].current.version).toBe(2);
    expect(server.files[0]).toMatchObject({ content: 'mine', version: 3 });
    // the next save goes on from the overwritten version without asking
    await drive.save('hello/main.py', { type: 'file', format: 'text', content: 'mine 2' });
    expect(asked).toHaveLength(1);
    expect(server.files[0].version).toBe(4);
  });

  it('writes nothing and reloads when told to reload', async () => {
    const { server, drive, reload } = setup('reload');
    server.addProject('hello', 'python', { 'main.py': 'v1' });
    await drive.get('hello/main.py', { content: true });
    server.changeElsewhere(server.files[0].id, 'theirs');
    const err = await drive
      .save('hello/main.py', { type: 'file', format: 'text', content: 'mine' })
      .catch((e: Error) => e);
    expect((err as Error).name).toBe('ModalCancelError');
    expect(server.files[0].content).toBe('theirs');
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(reload).toHaveBeenCalledWith('hello/main.py');
  });

  it('keeps the server version on cancel and asks again next time', async () => {
    const { server, drive, asked } = setup('cancel');
    server.addProject('hello', 'python', { 'main.py': 'v1' });
    await drive.get('hello/main.py', { content: true });
    server.changeElsewhere(server.files[0].id, 'theirs');
    for (let i = 0; i < 2; i++) {
      await expect(
        drive.save('hello/main.py', { type: 'file', format: 'text', content: 'mine' })
      ).rejects.toMatchObject({ name: 'ModalCancelError' });
    }
    expect(asked).toHaveLength(2);
    expect(server.files[0].content).toBe('theirs');
  });

  it('never overwrites a file it did not load without asking', async () => {
    const { server, drive, asked } = setup('cancel');
    server.addProject('hello', 'python', { 'main.py': 'theirs' });
    await expect(
      drive.save('hello/main.py', { type: 'file', format: 'text', content: 'mine' })
    ).rejects.toMatchObject({ name: 'ModalCancelError' });
    expect(asked[0].baseVersion).toBeNull();
    expect(server.files[0].content).toBe('theirs');
  });

  it('does not stack a second question while one is open', async () => {
    const server = new FakeServer();
    let answer: (c: ConflictChoice) => void = () => undefined;
    const drive = new MuscodeDrive({
      client: new MuscodeClient(server.settings()),
      resolveConflict: () => new Promise<ConflictChoice>(resolve => (answer = resolve))
    });
    server.addProject('hello', 'python', { 'main.py': 'v1' });
    await drive.get('hello/main.py', { content: true });
    server.changeElsewhere(server.files[0].id, 'theirs');
    const first = drive.save('hello/main.py', { type: 'file', format: 'text', content: 'a' });
    await new Promise(resolve => setTimeout(resolve, 5));
    await expect(
      drive.save('hello/main.py', { type: 'file', format: 'text', content: 'b' })
    ).rejects.toMatchObject({ name: 'ModalDuplicateError' });
    answer('overwrite');
    await first;
    expect(server.files[0].content).toBe('a');
  });
});

describe('MuscodeDrive changes', () => {
  it('makes a project for a new top-level folder and untitled files inside', async () => {
    const { server, drive } = setup();
    const folder = await drive.newUntitled({ path: '', type: 'directory' });
    expect(folder.name).toBe('Untitled Project');
    expect(server.projects[0]).toMatchObject({ name: 'Untitled Project', language: 'c' });
    const f1 = await drive.newUntitled({ path: 'Untitled Project', type: 'file', ext: '.c' });
    const f2 = await drive.newUntitled({ path: 'Untitled Project', type: 'file', ext: '.c' });
    expect([f1.name, f2.name]).toEqual(['untitled.c', 'untitled1.c']);
    await expect(drive.newUntitled({ path: '', type: 'file' })).rejects.toMatchObject({
      status: 400
    });
  });

  it('keeps an empty folder until a file is saved in it', async () => {
    const { server, drive } = setup();
    server.addProject('hello');
    const dir = await drive.newUntitled({ path: 'hello', type: 'directory' });
    expect(dir.path).toBe('hello/Untitled Folder');
    const listing = await drive.get('hello');
    expect((listing.content as { name: string }[]).map(c => c.name)).toEqual(['Untitled Folder']);
    await drive.rename('hello/Untitled Folder', 'hello/src');
    await drive.save('hello/src/a.py', { type: 'file', format: 'text', content: '' });
    expect(server.files[0].path).toBe('src/a.py');
  });

  it('renames files, folders and projects', async () => {
    const { server, drive, changes } = setup();
    const p = server.addProject('hello', 'python', {
      'a.py': '1',
      'pkg/b.py': '2',
      'pkg/c.py': '3'
    });
    await drive.get('hello/a.py', { content: true });
    await drive.rename('hello/a.py', 'hello/main.py');
    await drive.rename('hello/pkg', 'hello/lib');
    expect(server.files.map(f => f.path).sort()).toEqual(['lib/b.py', 'lib/c.py', 'main.py']);
    // the editor that held a.py still holds the latest version after the rename
    await drive.save('hello/main.py', { type: 'file', format: 'text', content: 'new' });
    expect(server.files.find(f => f.path === 'main.py')?.content).toBe('new');
    await drive.rename('hello', 'renamed');
    expect(server.projects.find(x => x.id === p.id)?.name).toBe('renamed');
    await expect(drive.rename('renamed/main.py', 'other/main.py')).rejects.toMatchObject({
      reason: 'cross_project_move'
    });
    expect(changes).toContain('rename:hello>renamed');
  });

  it('deletes files, folders and (softly) projects', async () => {
    const { server, drive } = setup();
    server.addProject('hello', 'python', { 'a.py': '1', 'pkg/b.py': '2' });
    await drive.delete('hello/pkg');
    expect(server.files.map(f => f.path)).toEqual(['a.py']);
    await drive.delete('hello');
    expect(server.projects[0].deleted_at).not.toBeNull();
    expect((await drive.get('')).content).toEqual([]);
  });

  it('copies a file next to itself with a -Copy name', async () => {
    const { server, drive } = setup();
    server.addProject('hello', 'python', { 'main.py': 'print("é")' });
    const copy = await drive.copy('hello/main.py', 'hello');
    expect(copy.name).toBe('main-Copy1.py');
    expect(server.files.find(f => f.path === 'main-Copy1.py')?.content).toBe('print("é")');
  });

  it('has one checkpoint: the saved version', async () => {
    const { server, drive } = setup();
    server.addProject('hello', 'python', { 'main.py': '1' });
    expect(await drive.listCheckpoints('hello/main.py')).toEqual([
      { id: 'v1', last_modified: server.files[0].updated_at }
    ]);
    expect(await drive.listCheckpoints('hello/gone.py')).toEqual([]);
  });
});

describe('helpers', () => {
  it('splits drive paths', () => {
    expect(splitPath('')).toEqual(['', '']);
    expect(splitPath('/hello//src/a.py/')).toEqual(['hello', 'src/a.py']);
  });

  it('picks free names as JupyterLab does', () => {
    expect(uniqueName('untitled', '.py', new Set())).toBe('untitled.py');
    expect(uniqueName('untitled', '.py', new Set(['untitled.py']))).toBe('untitled1.py');
    expect(uniqueName('Untitled Folder', '', new Set(['Untitled Folder']))).toBe(
      'Untitled Folder 1'
    );
  });
});
