/**
 * What every domain module of the service shares (ServiceContext): the options it was started
 * with, the store, the engine port, the settings and saving them, the events (emit and on), the
 * answers being generated, and whether the service is closing.
 */
import path from 'node:path';
import type { ApiEvents, EventName } from '../../api/contract.js';
import type { GenerateResult } from '../../engine/protocol.js';
import { writeSettingsFile, type StoredSettings } from '../settings.js';
import type { ConversationStore } from '../store/index.js';
import type { Cancellable, InferenceEngine } from './engine-port.js';
import type { ApiServiceOptions } from './options.js';

/** The state the domain modules share; one per service. */
export interface ServiceContext {
  readonly options: ApiServiceOptions;
  /** process.platform unless the options say otherwise. */
  readonly platform: string;
  /** Folder of installed models (absolute): options.modelsDir, default `<dataDir>/models`. */
  readonly modelsDir: string;
  readonly store: ConversationStore;
  readonly engine: InferenceEngine;
  /** The settings as saved (settings.json); change them, then saveSettings(). */
  settings: StoredSettings;
  /** Write `settings` to settings.json atomically. */
  saveSettings(): Promise<void>;
  /** Push an event to every listener of it. */
  emit<E extends EventName>(event: E, payload: ApiEvents[E]): void;
  /** Listen to an event; returns the function that stops listening. */
  on<E extends EventName>(event: E, listener: (payload: ApiEvents[E]) => void): () => void;
  /** Answers being generated, by assistant message id (stopped by generation.stop, unloading the model, close). */
  readonly generations: Map<number, Cancellable<GenerateResult>>;
  /** Set once close() began: late results are no longer stored or announced. */
  closing: boolean;
}

/** The context of a service over an open `store` and `engine`, with the settings read from `settingsFile` (user-settings.ts). */
export function createContext(options: ApiServiceOptions, store: ConversationStore, engine: InferenceEngine, settingsFile: string, settings: StoredSettings): ServiceContext {
  const listeners = new Map<EventName, Set<(payload: never) => void>>();
  const ctx: ServiceContext = {
    options,
    platform: options.platform ?? process.platform,
    modelsDir: path.resolve(options.modelsDir ?? path.join(options.dataDir, 'models')),
    store,
    engine,
    settings,
    saveSettings: () => writeSettingsFile(settingsFile, ctx.settings),
    emit(event, payload) {
      for (const listener of listeners.get(event) ?? []) (listener as (p: typeof payload) => void)(payload);
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      set.add(listener as (payload: never) => void);
      return () => set.delete(listener as (payload: never) => void);
    },
    generations: new Map(),
    closing: false,
  };
  return ctx;
}
