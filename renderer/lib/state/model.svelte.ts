/** The engine's model and execution provider, kept current by the `models.status` event. */
import type { ModelStatus, OmniFusionApi } from '../../../main/api/contract';
import { errorMessage } from '../platform/errors';
import { isConnectionAware } from '../platform/web-bridge';

class ModelState {
  status = $state<ModelStatus | null>(null);
  /** Set when models.status itself failed (the server or engine is unreachable). */
  error = $state<string | null>(null);

  async init(api: OmniFusionApi): Promise<void> {
    api.on('models.status', (status) => {
      this.status = status;
      this.error = null;
    });
    // Events sent before the event stream was (re)connected are lost, so ask again on every
    // connect, and keep asking while the model loads in case its 'ready' event was one of them.
    if (isConnectionAware(api)) {
      api.onConnection((state) => {
        if (state === 'open') void this.refresh(api);
      });
    }
    await this.refresh(api);
    while (this.status?.state === 'loading') {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await this.refresh(api);
    }
  }

  async refresh(api: OmniFusionApi): Promise<void> {
    try {
      this.status = await api.call('models.status', {});
      this.error = null;
    } catch (err) {
      this.error = errorMessage(err);
    }
  }
}

export const model = new ModelState();

/** One line for the status bar: "name · provider · note". */
export function describeModel(status: ModelStatus | null, error: string | null): string {
  if (error) return `Engine unavailable: ${error}`;
  if (!status) return 'Connecting to the engine…';
  switch (status.state) {
    case 'none':
      return 'No model loaded';
    case 'loading':
      return `Loading ${status.name || 'model'}…`;
    case 'error':
      return `Model error: ${status.error ?? status.name}`;
    default:
      return status.name;
  }
}
