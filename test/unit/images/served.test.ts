/**
 * What the window is shown of an attachment (main/core/images/served.ts): a CMYK JPEG is served
 * as the pixels the model gets (decodeImage), not left to the browser's own CMYK decoding, which
 * differs visibly; an RGB JPEG is its own file. Real input: a CMYK JPEG without a profile from
 * sharp's test fixtures (../shared/testdata/real/image-edge-cases, see SOURCES.md there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { servedRendition } from '../../../main/core/images/served.js';
import { decodeImage } from '../../../main/media/images/index.js';
import { REAL_DATA_DIR } from '../../fixtures/reference-cases.js';

const CMYK = path.join(REAL_DATA_DIR, 'image-edge-cases/sharp-fixture_Channel_digital_image_CMYK_color_no_profile.jpg');
const RGB = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');

test('a CMYK JPEG is served as the PNG of exactly the pixels the model sees', async () => {
  assert.equal((await sharp(CMYK).metadata()).space, 'cmyk', 'the input is CMYK');
  const served = await servedRendition({ path: CMYK, mime: 'image/jpeg' });
  assert.ok(served && 'bytes' in served, 'served as made bytes, not the file');
  assert.equal(served.mime, 'image/png');
  const shown = await sharp(Buffer.from(served.bytes)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const model = await decodeImage(CMYK);
  assert.deepEqual([shown.info.width, shown.info.height, shown.info.channels], [model.width, model.height, 3]);
  assert.ok(shown.data.equals(model.data), 'pixel for pixel what the model gets');
});

test('an RGB JPEG is served as its own file', async () => {
  assert.deepEqual(await servedRendition({ path: RGB, mime: 'image/jpeg' }), { path: RGB, mime: 'image/jpeg' });
});
