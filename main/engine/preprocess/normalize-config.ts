/**
 * The rescale and normalise fields every Hugging Face image processor config shares
 * (`do_rescale`, `rescale_factor`, `do_normalize`, `image_mean`, `image_std`), with the
 * transformers defaults (1/255; mean = std = 0.5, IMAGENET_STANDARD) for absent or null values.
 */
export interface RescaleNormalizeConfig {
  do_rescale: boolean;
  rescale_factor: number;
  do_normalize: boolean;
  image_mean: [number, number, number];
  image_std: [number, number, number];
}

/**
 * Read the shared fields of a preprocessor_config.json object.
 * @param fail makes the error thrown for an unusable value (the caller's error type), given a one-line message.
 */
export function rescaleNormalizeOf(pre: Record<string, unknown>, fail: (message: string) => Error): RescaleNormalizeConfig {
  const triple = (v: unknown): [number, number, number] => {
    if (v === undefined || v === null) return [0.5, 0.5, 0.5];
    if (typeof v === 'number') return [v, v, v];
    if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v as [number, number, number];
    throw fail(`image_mean/image_std must be a number or 3 numbers, got ${JSON.stringify(v)}`);
  };
  const cfg: RescaleNormalizeConfig = {
    do_rescale: pre.do_rescale !== false,
    rescale_factor: typeof pre.rescale_factor === 'number' ? pre.rescale_factor : 1 / 255,
    do_normalize: pre.do_normalize !== false,
    image_mean: triple(pre.image_mean),
    image_std: triple(pre.image_std),
  };
  if (!(cfg.rescale_factor > 0)) throw fail('rescale_factor must be > 0');
  if (cfg.image_std.some((s) => s === 0)) throw fail('image_std must be non-zero');
  return cfg;
}
