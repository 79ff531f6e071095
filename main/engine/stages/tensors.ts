/**
 * onnxruntime tensors as the pipeline's stages read and free them: float16 or float32 outputs
 * read out as float32, and tensors left in GPU memory (webgpu) freed explicitly.
 */
import type * as ort from 'onnxruntime-node';

/**
 * A float32 or float16 tensor's data as float32 (fp16 graphs may return half-precision outputs).
 * @throws Error for a tensor of another element type.
 */
export function toFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type !== 'float16') throw new Error(`expected a float tensor, got ${tensor.type}`);
  const half = tensor.data as Uint16Array;
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) {
    const h = half[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Free a tensor held in GPU memory; CPU tensors are left to the garbage collector. */
export function disposeOnDevice(tensor: ort.Tensor): void {
  if (tensor.location === 'gpu-buffer') tensor.dispose();
}
