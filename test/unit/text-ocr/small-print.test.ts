/**
 * Small print on real pixels (issue 12, bug 12): each page is read as PaddleOCR would (one det
 * pass, no border: `smallText: false, detBorder: false`, exactly the pipeline before the fix) and
 * as the engine reads it now; both character error rates are printed, the new one is bounded.
 * Pages: the real texify paragraph crop (prose with inline math, text touching the edges), the
 * real Vega-Lite bar chart (tick labels and single letters), a rendered 2480×3508 page of 8.7 px
 * x-height print, a rendered tight crop of prose with inline math, and a rendered chart with
 * negative tick labels. A normal page reads exactly as before, and cancellation reaches the new
 * pass.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeImage } from '../../../main/media/images/decode.js';
import { TextOcrCancelledError, TextOcrEngine, sharedTextOcrEngine } from '../../../main/engine/text-ocr/index.js';
import type { PageTextOptions } from '../../../main/engine/text-ocr/engine.js';
import { fragmentCer, pageCer, proseFragments } from '../../../main/engine/text-ocr/metrics.js';
import { REAL_DATA_DIR } from '../../fixtures/reference-cases.js';
import { chartSvg, labelsFound, mathPageSvg, pageSvg, paragraph, PROSE } from './pages.js';

const NO_REAL_DATA = !existsSync(path.join(REAL_DATA_DIR, 'SOURCES.md')) && `the real test data folder is absent (${REAL_DATA_DIR})`;
/** The pipeline before the fix: PaddleOCR's single det pass over the page as it is. */
const BEFORE: PageTextOptions = { smallText: false, detBorder: false };

async function readBoth(png: Buffer) {
  const engine = await sharedTextOcrEngine();
  const image = await decodeImage(png);
  return { before: await engine.read(image, BEFORE), after: await engine.read(image) };
}

const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

/** The prose of the texify paragraph: its ground truth in SOURCES.md with the math taken out. */
function texifyProse(): string[] {
  const sources = readFileSync(path.join(REAL_DATA_DIR, 'SOURCES.md'), 'utf8');
  const m = /```text\n([\s\S]*?)```/.exec(sources.slice(sources.indexOf('**`texify_example_0.png`**')));
  assert.ok(m, 'SOURCES.md has the texify ground truth');
  return proseFragments(m[1]!);
}

describe('small print on real pixels', () => {
  test('the real texify paragraph crop (458×147, text touching the top and bottom edges): its prose is read', { skip: NO_REAL_DATA }, async () => {
    const fragments = texifyProse();
    assert.equal(fragments.length, 12);
    const { before, after } = await readBoth(readFileSync(path.join(REAL_DATA_DIR, 'printed-math/texify_example_0.png')));
    const [b, a] = [fragmentCer(before.text, fragments), fragmentCer(after.text, fragments)];
    console.log(`texify_example_0.png prose (${a.referenceChars} chars, 12 fragments): CER before ${pct(b.cer)} (${b.edits} edits), after ${pct(a.cer)} (${a.edits})`);
    assert.ok(b.cer > 0.15, 'the first line, at the top edge, was lost before');
    assert.ok(a.cer < 0.03, after.text);
    assert.match(after.text, /^The potential .* is related to the surface charge/);
  });

  test('the real Vega-Lite bar chart: tick labels and the single letters under the bars', { skip: NO_REAL_DATA }, async () => {
    // Ticks 0…100 and the categories A…I of examples/specs/bar.vl.json (SOURCES.md), axis titles a and b.
    const labels = ['0', '10', '20', '30', '40', '50', '60', '70', '80', '90', '100', ...'ABCDEFGHI', 'a', 'b'];
    const { before, after } = await readBoth(readFileSync(path.join(REAL_DATA_DIR, 'screenshots/vegalite_bar.png')));
    const [b, a] = [labelsFound(before.text, labels), labelsFound(after.text, labels)];
    console.log(`vegalite_bar.png labels: before ${b.found.length}/${labels.length} (missing ${b.missing.join(' ')}), after ${a.found.length}/${labels.length} (missing ${a.missing.join(' ')})`);
    assert.ok(b.found.length <= 12);
    assert.ok(a.found.length >= 18, after.text);
    for (const tick of labels.slice(0, 11)) assert.ok(a.found.includes(tick), `tick ${tick}`);
    assert.ok(after.smallTextPass && after.smallTextPass.scale > 1.5, JSON.stringify(after.smallTextPass));
  });

  test('a 2480×3508 page (A4 at 300 dpi) of 16 px print, x-height 8.7 px: every line is read', async () => {
    const [W, H, size] = [2480, 3508, 16];
    const runs = [...paragraph(PROSE, 200, 300, size), ...paragraph(PROSE, 200, H / 2, size).map((r) => ({ ...r, font: 'serif' as const }))];
    const reference = [...PROSE, ...PROSE].join('\n');
    const { before, after } = await readBoth(await sharp(pageSvg(W, H, runs)).flatten({ background: '#fff' }).png().toBuffer());
    const [b, a] = [pageCer(before.text, reference), pageCer(after.text, reference)];
    console.log(`A4 page, 16 px print: CER before ${pct(b.cer)}, after ${pct(a.cer)} (${a.edits} edits in ${a.referenceChars}); second pass ${JSON.stringify(after.smallTextPass)}, det ${after.timings.detectMs} ms`);
    assert.ok(b.cer > 0.2);
    assert.ok(a.cer < 0.02, after.text);
    // Bounded: at most 4 first passes' worth of pixels in bands of one first pass each.
    assert.ok(after.smallTextPass!.scale <= 1 && after.smallTextPass!.bands <= 8);
  });

  test('a tight crop of prose with inline math at 16 px: read line by line', async () => {
    const { svg, text } = mathPageSvg(16, 0);
    const { before, after } = await readBoth(await sharp(svg).flatten({ background: '#fff' }).png().toBuffer());
    const [b, a] = [pageCer(before.text, text), pageCer(after.text, text)];
    console.log(`math prose crop, 16 px: CER before ${pct(b.cer)}, after ${pct(a.cer)} (${a.edits} edits in ${a.referenceChars})`);
    assert.ok(b.cer > 0.2);
    assert.ok(a.cer < 0.05, after.text);
    assert.match(after.text, /For every x > 0 we have f\(x\) = x.? - 2x \+ 1/);
  });

  test('chart tick labels with minus signs and single-letter axis titles (11 px)', async () => {
    const { svg, labels } = chartSvg(11);
    const { before, after } = await readBoth(await sharp(svg).flatten({ background: '#fff' }).png().toBuffer());
    const [b, a] = [labelsFound(before.text, labels), labelsFound(after.text, labels)];
    console.log(`chart labels: before ${b.found.length}/${labels.length} ${JSON.stringify(before.text)}, after ${a.found.length}/${labels.length} ${JSON.stringify(after.text)}`);
    assert.ok(b.found.length <= 3 && !b.found.includes('-2'), before.text);
    assert.doesNotMatch(before.text, /-2 -1 0 1 2/);
    assert.ok(a.found.length >= 8, after.text);
    assert.match(after.text, /-2 -1 0 1 2/);
    assert.ok(a.found.includes('y'));
  });
});

describe('pages without small print', () => {
  test('a normal real page reads exactly as before (no border, no second pass)', { skip: NO_REAL_DATA }, async () => {
    const { before, after } = await readBoth(readFileSync(path.join(REAL_DATA_DIR, 'documents/tesseract_phototest-rotated-L.png')));
    assert.equal(after.smallTextPass, undefined);
    assert.deepEqual(after.blocks, before.blocks);
    assert.equal(after.rotation, 90);
  });

  test('cancellation reaches each band of the second pass', async () => {
    const { svg } = chartSvg(11);
    const image = await decodeImage(await sharp(svg).flatten({ background: '#fff' }).png().toBuffer());
    const engine = await TextOcrEngine.create();
    // Count the graph runs of this engine's own sessions.
    const runs = { det: 0, rec: 0 };
    const models = (engine as unknown as { models: Record<'det' | 'rec', { run: (...a: unknown[]) => Promise<unknown> }> }).models;
    for (const kind of ['det', 'rec'] as const) {
      const run = models[kind].run.bind(models[kind]);
      models[kind].run = (...a: unknown[]) => {
        runs[kind]++;
        return run(...a);
      };
    }
    const page = await engine.read(image);
    const bands = page.smallTextPass!.bands;
    assert.ok(bands >= 1);
    assert.equal(runs.det, 1 + bands);
    // A signal that turns aborted at its second look: the first is before the first det pass,
    // the second before the first band.
    let looks = 0;
    const signal = { get aborted() { return ++looks >= 2; } } as unknown as AbortSignal;
    Object.assign(runs, { det: 0, rec: 0 });
    await assert.rejects(engine.read(image, { signal }), TextOcrCancelledError);
    assert.deepEqual(runs, { det: 1, rec: 0 });
    await engine.release();
  });
});
