/**
 * decodeImage: user mistakes are refused with the right code and a one-line message;
 * real and synthetic images decode to 8-bit RGB with the documented normalisation.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { decodeImage } from '../../../main/media/images/decode.js';
import { ImageInputError, type ImageInputErrorCode } from '../../../main/media/images/errors.js';
import { pngHeaderOnly } from '../../helpers/images.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const realDir = path.resolve(repoRoot, '../shared/testdata/real');
const real = (p: string) => path.join(realDir, p);

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'omnifusion-decode-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function tmpFile(name: string, data: Buffer | string): string {
  const p = path.join(tmp, name);
  writeFileSync(p, data);
  return p;
}

/** Asserts decodeImage rejects with `code` and a one-line message; returns the message. */
async function refusal(input: Buffer | string, code: ImageInputErrorCode, opts?: Parameters<typeof decodeImage>[1]): Promise<string> {
  try {
    await decodeImage(input, opts);
  } catch (err) {
    assert.ok(err instanceof ImageInputError, `expected ImageInputError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes('\n'), `multi-line message: ${JSON.stringify(err.message)}`);
    return err.message;
  }
  assert.fail(`expected ${code}, but it decoded`);
}

describe('decodeImage refuses bad inputs with a code and one line', () => {
  test('zero-byte file', async () => {
    const msg = await refusal(tmpFile('empty.png', ''), 'empty_file');
    assert.equal(msg, 'empty.png: the file is empty (0 bytes)');
  });

  test('truncated JPEG (first half of a real photo) is an error, not a grey-filled image', async () => {
    const jpg = readFileSync(real('medical/ham10000_ISIC_0024338.jpg'));
    const msg = await refusal(tmpFile('page.jpg', jpg.subarray(0, jpg.length >> 1)), 'truncated');
    assert.equal(msg, 'page.jpg: truncated or corrupt JPEG data');
  });

  test('truncated PNG', async () => {
    const png = readFileSync(real('medical/nih-cxr14_00000001_000.png'));
    assert.equal(await refusal(tmpFile('xray.png', png.subarray(0, png.length >> 1)), 'truncated'), 'xray.png: truncated or corrupt PNG data');
    // Cut inside the header: still a PNG signature, so "truncated", not "not an image".
    assert.equal(await refusal(tmpFile('stub.png', png.subarray(0, 20)), 'truncated'), 'stub.png: truncated or corrupt PNG data');
  });

  test('a text file named .png', async () => {
    const msg = await refusal(tmpFile('photo.png', 'Hello, this is a note I saved with the wrong name.\n'), 'not_an_image');
    assert.equal(msg, 'photo.png: not an image (the file starts with text, not PNG data)');
  });

  test('unrecognised binary data', async () => {
    const msg = await refusal(tmpFile('blob.jpg', Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe, 0xed, 0xfa, 0xce, 0, 0, 0, 0])), 'not_an_image');
    assert.equal(msg, 'blob.jpg: not an image (unrecognised data starting with bytes 00 01 02 03, not JPEG data)');
  });

  test('a PNG header declaring 30000×30000 pixels is refused from the header', async () => {
    const file = tmpFile('scan.png', pngHeaderOnly(30000, 30000));
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const msg = await refusal(file, 'too_many_pixels');
    const ms = performance.now() - t0;
    assert.equal(msg, 'scan.png: 30000×30000 pixels exceeds the 100 MP limit');
    // Decoding would need 2.7 GB for the RGB raster; the header check needs nothing.
    assert.ok(process.memoryUsage().rss - rss0 < 100 * 1024 * 1024, 'memory grew by more than 100 MiB');
    assert.ok(ms < 1000, `${ms} ms`);
  });

  test('our limit applies below sharp/libvips own 268 MP limit, and is configurable', async () => {
    // 12000×12000 = 144 MP: sharp alone would start decoding (and report a truncated IDAT).
    assert.equal(await refusal(pngHeaderOnly(12000, 12000), 'too_many_pixels', { name: 'big.png' }), 'big.png: 12000×12000 pixels exceeds the 100 MP limit');
    assert.equal(
      await refusal(real('documents/donut_sample_document_photo.png'), 'too_many_pixels', { maxPixels: 10_000_000 }),
      'donut_sample_document_photo.png: 3024×4032 pixels exceeds the 10 MP limit',
    );
  });

  test('a missing path', async () => {
    const missing = path.join(tmp, 'nothere.png');
    assert.equal(await refusal(missing, 'not_found'), `nothere.png: file not found (${missing})`);
  });

  test('a folder', async () => {
    const dir = path.join(tmp, 'album.png');
    mkdirSync(dir);
    assert.equal(await refusal(dir, 'not_an_image'), `album.png: ${dir} is a folder, not an image file`);
  });

  test('file-size guard, from stat for paths and from length for buffers', async () => {
    const file = real('medical/ham10000_ISIC_0024338.jpg'); // 210658 bytes = 205.7 KiB
    assert.equal(await refusal(file, 'too_large_file', { maxBytes: 10 * 1024 }), 'ham10000_ISIC_0024338.jpg: 206 KiB exceeds the 10 KiB file-size limit');
    assert.equal(await refusal(readFileSync(file), 'too_large_file', { maxBytes: 1000 }), 'image: 206 KiB exceeds the 1000 bytes file-size limit');
    assert.equal((await decodeImage(file, { maxBytes: 210658 })).width, 600); // the limit is inclusive
  });

  test('a real but unsupported format (BMP)', async () => {
    const bmp = Buffer.alloc(70);
    bmp.write('BM', 0, 'latin1');
    bmp.writeUInt32LE(70, 2);
    bmp.writeUInt32LE(54, 10);
    bmp.writeUInt32LE(40, 14); // BITMAPINFOHEADER
    bmp.writeInt32LE(4, 18);
    bmp.writeInt32LE(1, 22);
    bmp.writeUInt16LE(1, 26);
    bmp.writeUInt16LE(24, 28);
    assert.equal(
      await refusal(tmpFile('drawing.bmp', bmp), 'unsupported_format'),
      'drawing.bmp: BMP images are not supported (use PNG, JPEG, WebP, GIF, TIFF or AVIF)',
    );
  });

  test('buffers are named by opts.name, default "image"', async () => {
    assert.equal(await refusal(Buffer.alloc(0), 'empty_file'), 'image: the file is empty (0 bytes)');
    assert.equal(await refusal(Buffer.from('%%% not an image'), 'not_an_image', { name: 'clipboard' }), 'clipboard: not an image (the file starts with text)');
  });
});

describe('decodeImage normalises good inputs to 8-bit RGB', () => {
  test('the 12 MP donut photo (3024×4032 greyscale PNG)', async () => {
    const img = await decodeImage(real('documents/donut_sample_document_photo.png'));
    assert.deepEqual([img.width, img.height], [3024, 4032]);
    assert.equal(img.data.length, 3024 * 4032 * 3);
    assert.deepEqual(
      { format: img.source.format, space: img.source.space, depth: img.source.depth, frames: img.source.frames, hadAlpha: img.source.hadAlpha },
      { format: 'png', space: 'b-w', depth: 'uchar', frames: 1, hadAlpha: false },
    );
    assert.equal(img.source.bytes, readFileSync(real('documents/donut_sample_document_photo.png')).length);
    // Grey → RGB: equal channels everywhere (sampled every 997th pixel).
    for (let p = 0; p < 3024 * 4032; p += 997) {
      assert.equal(img.data[3 * p], img.data[3 * p + 1]);
      assert.equal(img.data[3 * p], img.data[3 * p + 2]);
    }
  });

  test('16-bit PNGs (grey and RGB) become 8-bit by dropping the low byte', async () => {
    const g = new Uint16Array([0, 383, 32767, 32896, 65535, 65280]);
    const grey16 = await sharp(g, { raw: { width: 6, height: 1, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const img = await decodeImage(grey16, { name: 'g16.png' });
    assert.equal(img.source.depth, 'ushort');
    assert.equal(img.source.space, 'grey16');
    assert.deepEqual([...img.data], [0, 0, 0, 1, 1, 1, 127, 127, 127, 128, 128, 128, 255, 255, 255, 255, 255, 255]);

    const rgb16 = await sharp(new Uint16Array([0, 383, 32767, 32896, 65535, 65280]), { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    const img2 = await decodeImage(rgb16);
    assert.equal(img2.source.depth, 'ushort');
    assert.deepEqual([...img2.data], [0, 1, 127, 128, 255, 255]);
  });

  test('a 1-bit PNG', async () => {
    const bits = Buffer.from([0, 255, 255, 0, 0, 0, 255, 255]);
    const png = await sharp(bits, { raw: { width: 4, height: 2, channels: 1 } }).png({ palette: true, colours: 2 }).toBuffer();
    assert.equal(png[24], 1, 'IHDR bit depth is 1'); // 8 signature + 8 chunk header + 8 width/height
    const img = await decodeImage(png);
    assert.deepEqual([img.width, img.height], [4, 2]);
    assert.deepEqual([...img.data], [...bits].flatMap((v) => [v, v, v]));
  });

  test('transparent RGBA pixels composite on white', async () => {
    const rgba = Buffer.from([
      255, 0, 0, 0, // fully transparent red → white
      0, 0, 255, 255, // opaque blue stays blue
      0, 0, 0, 128, // half-transparent black → grey
      0, 0, 0, 0, // fully transparent black → white (never black)
    ]);
    const png = await sharp(rgba, { raw: { width: 4, height: 1, channels: 4 } }).png().toBuffer();
    const img = await decodeImage(png);
    assert.equal(img.source.hadAlpha, true);
    // (c·a + 255·(255 − a)) / 255, truncated: 255·127/255 = 127.
    assert.deepEqual([...img.data], [255, 255, 255, 0, 0, 255, 127, 127, 127, 255, 255, 255]);
  });

  test('EXIF orientation applied; CMYK converted to 3-channel sRGB; animated GIF → last frame', async () => {
    const land = await decodeImage(real('image-edge-cases/sharp-fixture_Landscape_6.jpg'));
    assert.deepEqual([land.width, land.height, land.source.orientation], [600, 450, 6]);
    const cmyk = await decodeImage(real('image-edge-cases/sharp-fixture_Channel_digital_image_CMYK_color_no_profile.jpg'));
    assert.deepEqual([cmyk.width, cmyk.height, cmyk.source.space, cmyk.data.length], [500, 333, 'cmyk', 500 * 333 * 3]);
    const gif = await decodeImage(real('image-edge-cases/sharp-fixture_animated-loop-3.gif'));
    assert.deepEqual([gif.width, gif.height, gif.source.frames, gif.source.frame], [370, 285, 10, 9]);
    // The last frame holds the finished construction: more ink than the first.
    const first = await sharp(real('image-edge-cases/sharp-fixture_animated-loop-3.gif'), { page: 0 })
      .flatten({ background: '#fff' })
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    const ink = (d: Buffer) => d.reduce((s, v) => s + (255 - v), 0);
    assert.ok(ink(gif.data) > 2 * ink(first), `last-frame ink ${ink(gif.data)} vs first ${ink(first)}`);
  });

  test('frame rule: animated WebP → last frame, multi-page TIFF → first page', async () => {
    const gifPath = real('image-edge-cases/sharp-fixture_animated-loop-3.gif');
    const gifLast = await decodeImage(gifPath);
    const webp = await decodeImage(await sharp(gifPath, { animated: true }).webp({ lossless: true }).toBuffer(), { name: 'anim.webp' });
    assert.deepEqual([webp.source.format, webp.source.frames, webp.source.frame, webp.height], ['webp', 10, 9, 285]);
    assert.deepEqual(webp.data, gifLast.data); // lossless: same pixels as the GIF's last frame
    const tiff = await decodeImage(await sharp(gifPath, { pages: -1 }).tiff().toBuffer(), { name: 'pages.tif' });
    assert.deepEqual([tiff.source.format, tiff.source.frames, tiff.source.frame, tiff.height], ['tiff', 10, 0, 285]);
  });

  test('an SVG renders at its declared size, transparent areas white', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="20" height="20" fill="red"/></svg>');
    const img = await decodeImage(svg, { name: 'diagram.svg' });
    assert.deepEqual([img.source.format, img.width, img.height], ['svg', 40, 20]);
    assert.deepEqual([...img.data.subarray(0, 3)], [255, 0, 0]);
    assert.deepEqual([...img.data.subarray(img.data.length - 3)], [255, 255, 255]);
  });

  test('a real JPEG named .png still decodes (content decides, not the name)', async () => {
    const img = await decodeImage(tmpFile('mislabelled.png', readFileSync(real('medical/ham10000_ISIC_0026665.jpg'))));
    assert.deepEqual([img.source.format, img.width, img.height], ['jpeg', 600, 450]);
  });
});
