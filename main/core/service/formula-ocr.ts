/**
 * Formula recognition (ocr.recognize): a stored image read as LaTeX by the loaded model with a
 * recognition prompt (main/core/ocr.ts builds the request and reads the answer).
 */
import { decodeImage } from '../../media/images/index.js';
import { ocrRequest, readOcrAnswer } from '../ocr.js';
import type { ServiceContext } from './context.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';
import type { LoadedModel } from './loaded-model.js';
import { isSha256 } from './validation.js';

/** The ocr.recognize call of the service of `ctx`, answered with the model of `loaded`. */
export function createFormulaOcr(ctx: ServiceContext, loaded: LoadedModel): Pick<Handlers, 'ocr.recognize'> {
  const { store, engine } = ctx;
  return {
    'ocr.recognize': async ({ attachment }) => {
      if (!isSha256(attachment)) throw new ApiRequestError('bad_request', 'attachment must be the sha256 of an added image');
      if (!store.getAttachment(attachment)) throw new ApiRequestError('not_found', `attachment ${attachment} does not exist`);
      await loaded.require();
      const name = `formula-${attachment.slice(0, 12)}`;
      const decoded = await decodeImage(store.attachmentPath(attachment), { name });
      const { request, notes } = await ocrRequest(decoded, { name, modelDir: loaded.currentDir()!, ...(ctx.settings.maxNewTokens !== null ? { maxNewTokens: ctx.settings.maxNewTokens } : {}) });
      const result = await engine.generate(request).result;
      return { ...readOcrAnswer(result.answer), notes };
    },
  };
}
