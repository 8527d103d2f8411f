import type { CommandRegistry } from '../commands/command-registry.ts';
import type { Logger } from '../logger.ts';
import type { CalloutRegistry } from './callouts.ts';
import type { LibraryHandle, HookLibrary } from './hook-library.ts';
import type { ResolvedLibrary } from './library-resolution.ts';

/** What a library registered, so a failed load or an unload can take back exactly that. */
export interface LibraryFootprint {
  readonly statusKeys: Set<string>;
  /** Run after the library unloaded (or failed to load): what the core holds for it, e.g. aborting its peer calls. */
  readonly cleanups: (() => void)[];
}

export type HandleFactory = (lib: ResolvedLibrary, footprint: LibraryFootprint) => LibraryHandle;

/**
 * Loads libraries in configuration order and unloads them in reverse (Kea's order). If a load()
 * throws, that library's unload() runs, everything it registered is removed, the libraries loaded
 * before it are unloaded too, and the error names the library.
 */
export class HooksManager {
  private readonly loaded: { library: HookLibrary; footprint: LibraryFootprint }[] = [];

  constructor(
    private readonly registry: CommandRegistry,
    private readonly callouts: CalloutRegistry,
    private readonly removeStatus: (keys: Iterable<string>) => void,
    private readonly logger: Logger,
  ) {}

  async loadAll(libs: readonly ResolvedLibrary[], makeHandle: HandleFactory): Promise<void> {
    for (const lib of libs) {
      const footprint: LibraryFootprint = { statusKeys: new Set(), cleanups: [] };
      try {
        await lib.library.load(makeHandle(lib, footprint));
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.logger.error({ msgId: 'CORE_LIBRARY_LOAD_FAILED', library: lib.library.name, err }, `library ${lib.library.name} failed to load`);
        await this.safeUnload(lib.library);
        this.forget(lib.library.name, footprint);
        await this.unloadAll();
        throw new Error(`library '${lib.library.name}' failed to load: ${reason}`);
      }
      this.loaded.push({ library: lib.library, footprint });
      this.logger.info({ msgId: 'CORE_LIBRARY_LOADED', library: lib.library.name }, `library ${lib.library.name} loaded`);
    }
  }

  /**
   * Restarts the given libraries in place (a reload changed their parameters and they could not
   * apply them): they unload in reverse order, then load again in `order` with their new entries.
   * The others keep running. Callouts are put back in library order. If a load fails, the error
   * names the library; restarting the same libraries with their old entries is the rollback.
   */
  async restart(libs: readonly ResolvedLibrary[], order: readonly string[], makeHandle: HandleFactory): Promise<void> {
    await this.unloadSome(new Set(libs.map((l) => l.library.name)));
    const rank = (name: string) => order.indexOf(name);
    this.registry.thaw();
    try {
      for (const lib of libs) {
        const footprint: LibraryFootprint = { statusKeys: new Set(), cleanups: [] };
        try {
          await lib.library.load(makeHandle(lib, footprint));
        } catch (err) {
          this.logger.error({ msgId: 'CORE_LIBRARY_LOAD_FAILED', library: lib.library.name, err }, `library ${lib.library.name} failed to load`);
          await this.safeUnload(lib.library);
          this.forget(lib.library.name, footprint);
          throw new Error(`library '${lib.library.name}' failed to load: ${err instanceof Error ? err.message : String(err)}`);
        }
        this.loaded.push({ library: lib.library, footprint });
        this.loaded.sort((a, b) => rank(a.library.name) - rank(b.library.name));
        this.logger.info({ msgId: 'CORE_LIBRARY_LOADED', library: lib.library.name }, `library ${lib.library.name} loaded`);
      }
    } finally {
      this.callouts.sortBy(rank);
      this.registry.freeze();
    }
  }

  /** Unloads the named libraries (reverse order), leaving the others running. */
  async unloadSome(names: ReadonlySet<string>): Promise<void> {
    for (const entry of [...this.loaded].reverse()) {
      if (!names.has(entry.library.name)) continue;
      await this.safeUnload(entry.library);
      this.forget(entry.library.name, entry.footprint);
      this.loaded.splice(this.loaded.indexOf(entry), 1);
      this.logger.info({ msgId: 'CORE_LIBRARY_UNLOADED', library: entry.library.name }, `library ${entry.library.name} unloaded`);
    }
  }

  async unloadAll(): Promise<void> {
    while (this.loaded.length > 0) {
      const { library, footprint } = this.loaded.pop() as { library: HookLibrary; footprint: LibraryFootprint };
      await this.safeUnload(library);
      this.forget(library.name, footprint);
      this.logger.info({ msgId: 'CORE_LIBRARY_UNLOADED', library: library.name }, `library ${library.name} unloaded`);
    }
  }

  names(): string[] {
    return this.loaded.map((l) => l.library.name);
  }

  private forget(owner: string, footprint: LibraryFootprint): void {
    for (const cleanup of footprint.cleanups.splice(0)) cleanup();
    this.registry.removeOwner(owner);
    this.callouts.removeOwner(owner);
    this.removeStatus(footprint.statusKeys);
  }

  private async safeUnload(library: HookLibrary): Promise<void> {
    try {
      await library.unload();
    } catch (err) {
      this.logger.error({ msgId: 'CORE_LIBRARY_UNLOAD_FAILED', library: library.name, err }, `library ${library.name} failed to unload`);
    }
  }
}
