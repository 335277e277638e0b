/**
 * Folders made in the file browser that hold no file yet, by project id.
 *
 * The server stores paths, not folders: such a folder lives in this browser tab until
 * a file is saved in it.
 */
export class VirtualFolders {
  /** The folders of a project. */
  of(projectId: string): string[] {
    return Array.from(this._folders.get(projectId) ?? []);
  }

  /** The folder `dir` of a project and the folders inside it (all of them for ''). */
  under(projectId: string, dir: string): string[] {
    return this.of(projectId).filter(d => !dir || d === dir || d.startsWith(`${dir}/`));
  }

  add(projectId: string, dir: string): void {
    let dirs = this._folders.get(projectId);
    if (!dirs) {
      dirs = new Set();
      this._folders.set(projectId, dirs);
    }
    dirs.add(dir);
  }

  remove(projectId: string, dir: string): void {
    this._folders.get(projectId)?.delete(dir);
  }

  private _folders = new Map<string, Set<string>>();
}
