/**
 * Models: the catalog with what is installed (models.catalog), downloads with their progress
 * (models.progress / models.installed events), and the actions of the model manager and the
 * first-run screen: pull, cancel, remove, use, import.
 *
 * `init()` is idempotent and called by ModelManager and FirstRun when they mount (main.ts need not
 * know about this store). An API without the models.* calls (an older server, the demo API) leaves
 * `catalog` null and `loadError` set: the first-run screen then stays hidden.
 *
 * The first-run screen shows when the engine has no model ('none'), nothing is installed, the
 * catalog offers a default, and the user has neither skipped it (remembered in localStorage) nor
 * set it aside for this session ("Choose another", Esc). A model downloaded from it is made the
 * active one once installed.
 */
import type { ModelEntry, ModelProgress, ModelsCatalog, OmniFusionApi } from '../../../main/api/contract';
import { getApi } from '../platform';
import { errorMessage } from '../platform/errors';
import { isConnectionAware } from '../platform/web-bridge';
import { model } from './model.svelte';
import { ui } from './ui.svelte';

const SKIP_KEY = 'omnifusion.firstRunSkipped';

function storage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

/** What a model's row is doing now. */
export type ModelBusy = 'starting' | 'cancelling' | 'removing' | 'using';

class ModelsState {
  catalog = $state<ModelsCatalog | null>(null);
  /** Why models.catalog failed (one line), if it did. */
  loadError = $state<string | null>(null);
  /** The latest progress of each running download or import, by model id. */
  progress = $state<Record<string, ModelProgress>>({});
  /** The last failure of each model's action (one line), by model id. */
  errors = $state<Record<string, string>>({});
  /** A failure not tied to one model (import). */
  error = $state<string | null>(null);
  /** An action waiting for its answer, by model id. */
  busy = $state<Record<string, ModelBusy>>({});
  importing = $state(false);
  /**
   * An import that stopped because its id is already installed: what to resend with `replace`
   * (Replace), or drop (Cancel); `name` is the installed model's.
   */
  replaceOffer = $state<{ dir: string; id?: string; modelId: string; name: string } | null>(null);
  /** The model manager dialog is open. */
  managerOpen = $state(false);
  /** The user chose Skip on the first-run screen (kept across sessions). */
  firstRunSkipped = $state(storage()?.getItem(SKIP_KEY) === '1');
  /** The user set the first-run screen aside for this session (Choose another, Esc). */
  firstRunDismissed = $state(false);

  /** Installed models. */
  installed = $derived<ModelEntry[]>(this.catalog?.models.filter((m) => m.installed) ?? []);
  /** The catalog's default model entry. */
  defaultEntry = $derived<ModelEntry | undefined>(this.catalog?.default ? this.catalog.models.find((m) => m.id === this.catalog!.default!.id) : undefined);
  /** Show the first-run screen (see the module comment). */
  showFirstRun = $derived(
    this.catalog !== null &&
      this.catalog.default !== null &&
      this.installed.length === 0 &&
      !this.firstRunSkipped &&
      !this.firstRunDismissed &&
      !this.managerOpen &&
      model.status?.state === 'none',
  );

  #api: OmniFusionApi | undefined;
  #started = false;
  /** Downloads to make active once installed (started from the first-run screen). */
  #useWhenInstalled = new Set<string>();

  /** Subscribe to the models events and read the catalog (once; later calls just return). */
  init(api: OmniFusionApi = getApi()): void {
    if (this.#started) return;
    this.#started = true;
    this.#api = api;
    api.on('models.progress', (p) => this.#onProgress(p));
    api.on('models.installed', ({ id }) => void this.#onInstalled(id));
    // Events sent while the event stream was down are lost: read the catalog again on reconnect.
    if (isConnectionAware(api)) {
      api.onConnection((state) => {
        if (state === 'open') void this.refresh();
      });
    }
    void this.refresh();
  }

  get #call(): OmniFusionApi['call'] {
    const api = this.#api ?? getApi();
    return api.call.bind(api) as OmniFusionApi['call'];
  }

  /** Read the catalog; running downloads seen there (started elsewhere) get their progress. */
  async refresh(): Promise<void> {
    try {
      const catalog = await this.#call('models.catalog', {});
      this.catalog = catalog;
      this.loadError = null;
      const next: Record<string, ModelProgress> = {};
      for (const m of catalog.models) {
        const live = this.progress[m.id];
        if (m.pulling) next[m.id] = live && live.bytesDone >= m.pulling.bytesDone ? live : m.pulling;
        else if (live && live.phase !== 'done' && this.busy[m.id] === 'starting') next[m.id] = live;
      }
      this.progress = next;
    } catch (err) {
      this.loadError = errorMessage(err);
    }
  }

  #onProgress(p: ModelProgress): void {
    if (p.phase === 'failed' || p.phase === 'cancelled') {
      delete this.progress[p.id];
      this.#useWhenInstalled.delete(p.id);
      if (p.phase === 'failed') this.errors[p.id] = p.error?.message ?? 'the download failed';
      void this.refresh();
      return;
    }
    const before = this.progress[p.id];
    // Progress only moves forward (a late event from a refresh race is dropped).
    if (before && p.bytesDone < before.bytesDone) return;
    this.progress[p.id] = p;
  }

  async #onInstalled(id: string): Promise<void> {
    delete this.progress[id];
    delete this.errors[id];
    await this.refresh();
    const name = this.catalog?.models.find((m) => m.id === id)?.name ?? id;
    if (this.#useWhenInstalled.delete(id)) {
      await this.use(id);
      ui.toast(`${name} is installed and loading.`);
    } else {
      ui.toast(`${name} is installed.`);
    }
  }

  /**
   * Start downloading a model (resumes a partial download).
   * @param options.useWhenInstalled make it the active model once installed (first run).
   */
  async pull(id: string, options: { dtype?: string; useWhenInstalled?: boolean } = {}): Promise<boolean> {
    delete this.errors[id];
    this.busy[id] = 'starting';
    if (options.useWhenInstalled) this.#useWhenInstalled.add(id);
    // Show the bar at once; the first event replaces it.
    const entry = this.catalog?.models.find((m) => m.id === id);
    this.progress[id] ??= {
      id,
      phase: 'resolving',
      bytesDone: entry?.partialBytes ?? 0,
      bytesTotal: 0,
      rateBytesPerSec: 0,
      etaSec: null,
      fileIndex: 0,
      fileCount: 0,
    };
    try {
      await this.#call('models.pull', { id, ...(options.dtype ? { dtype: options.dtype } : {}) });
      return true;
    } catch (err) {
      this.#useWhenInstalled.delete(id);
      delete this.progress[id];
      this.errors[id] = errorMessage(err);
      return false;
    } finally {
      delete this.busy[id];
    }
  }

  /** Stop a download; what was downloaded is kept for "Resume". */
  async cancel(id: string): Promise<void> {
    this.busy[id] = 'cancelling';
    this.#useWhenInstalled.delete(id);
    try {
      await this.#call('models.cancel', { id });
    } catch (err) {
      this.errors[id] = errorMessage(err);
    } finally {
      delete this.busy[id];
      await this.refresh();
    }
  }

  /** Delete an installed model and any partial download of it. */
  async remove(id: string): Promise<void> {
    delete this.errors[id];
    this.busy[id] = 'removing';
    try {
      await this.#call('models.remove', { id });
      delete this.progress[id];
    } catch (err) {
      this.errors[id] = errorMessage(err);
    } finally {
      delete this.busy[id];
      await this.refresh();
    }
  }

  /** Make an installed model the active one (the engine loads it; the status line follows). */
  async use(id: string): Promise<void> {
    delete this.errors[id];
    this.busy[id] = 'using';
    try {
      model.status = await this.#call('models.use', { id });
    } catch (err) {
      this.errors[id] = errorMessage(err);
    } finally {
      delete this.busy[id];
      await this.refresh();
    }
  }

  /**
   * Install a model from a folder on the machine running the app. An id that is already installed
   * is not replaced: `replaceOffer` is set instead (see replaceImport / cancelReplace), unless
   * `options.replace`.
   * @returns its id, or null (failed, or waiting for Replace).
   */
  async importFolder(dir: string, id?: string, options: { replace?: boolean } = {}): Promise<string | null> {
    this.error = null;
    this.replaceOffer = null;
    this.importing = true;
    let offer: { dir: string; id?: string; modelId: string } | undefined;
    try {
      const result = await this.#call('models.import', { dir, ...(id ? { id } : {}), ...(options.replace ? { replace: true } : { askToReplace: true }) });
      if (result.alreadyInstalled) {
        offer = { dir, ...(id ? { id } : {}), modelId: result.id };
        return null;
      }
      return result.id;
    } catch (err) {
      this.error = errorMessage(err);
      return null;
    } finally {
      this.importing = false;
      await this.refresh();
      if (offer) this.replaceOffer = { ...offer, name: this.catalog?.models.find((m) => m.id === offer!.modelId)?.name ?? offer.modelId };
    }
  }

  /** "Replace": import the offered folder again over the installed model. @returns its id, or null. */
  async replaceImport(): Promise<string | null> {
    const offer = this.replaceOffer;
    if (!offer || this.importing) return null;
    return this.importFolder(offer.dir, offer.id, { replace: true });
  }

  /** "Cancel" (or the folder was edited): keep the installed model, forget the offer. */
  cancelReplace(): void {
    this.replaceOffer = null;
  }

  openManager(): void {
    this.init();
    this.managerOpen = true;
    void this.refresh();
  }

  closeManager(): void {
    this.managerOpen = false;
    this.replaceOffer = null;
  }

  /** "Skip" on the first-run screen: not shown again. */
  skipFirstRun(): void {
    this.firstRunSkipped = true;
    storage()?.setItem(SKIP_KEY, '1');
  }

  /** "Choose another" (or Esc) on the first-run screen: set aside for this session. */
  dismissFirstRun(): void {
    this.firstRunDismissed = true;
  }
}

export const models = new ModelsState();
