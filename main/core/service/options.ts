/**
 * What the API service is started with (ApiServiceOptions): the data folder, the model, the
 * engine, the desktop shell's capture, the model downloads' sources and tuning.
 */
import type { CaptureStatus } from '../../api/capture.js';
import type { EngineLauncher } from '../../engine/host.js';
import type { ExecutionProvider } from '../../engine/session.js';
import type { PullOptions } from '../models/index.js';
import type { InferenceEngine } from './engine-port.js';

/** Where the app keeps its data and which model it runs. */
export interface ApiServiceOptions {
  /** The app's data folder: history database, attachments, settings. */
  dataDir: string;
  /** Model package folder; without one, sending a message reports that no model is loaded. */
  modelDir?: string;
  executionProvider?: ExecutionProvider;
  /** How the engine process is started (Electron passes a utilityProcess launcher). */
  launcher?: EngineLauncher;
  /**
   * The engine to run on (engine-port.ts), e.g. a remote one; default: the local engine process
   * (EngineHost, started with `launcher`). The service stops it on close.
   */
  engine?: InferenceEngine;
  /** The desktop shell's capture; without it (the browser UI) capture.status is 'unavailable'. */
  capture?: CaptureController;
  /** process.platform, for the default hotkey and the system shortcuts it must avoid. */
  platform?: string;
  /** Read the text of every added image in the background (default true). */
  readImageText?: boolean;
  /** Folder of installed models (default: `<dataDir>/models`). */
  modelsDir?: string;
  /** Hub base URL models are downloaded from (default https://huggingface.co). */
  hubUrl?: string;
  /** Hub access token for gated or private models (sent only to hubUrl's origin). */
  hubToken?: string;
  /** The model catalog file (default: resources/catalog.json). */
  catalogPath?: string;
  /** Download tuning (tests): retries and their sleep, progress interval, stall timeout, the free-space probe. */
  download?: Pick<PullOptions, 'retry' | 'sleep' | 'random' | 'progressIntervalMs' | 'stallTimeoutMs' | 'statfs'>;
  /** Physical memory the default model is chosen for (default os.totalmem()). */
  ramBytes?: number;
}

/** The Electron shell's capture: its hotkey follows settings.captureHotkey; start() runs the flow. */
export interface CaptureController {
  /** Register `accelerator` (releasing the previous one) and report the result. */
  set(accelerator: string): CaptureStatus;
  status(): CaptureStatus;
  /** Called when the state changes on its own (e.g. confirmed by the first press on Wayland). */
  onChange(listener: (status: CaptureStatus) => void): void;
  /** Run the capture flow now (resolves once it has started). */
  start(): void;
}
