// Issue 12, bug 10b: text in an answer that looks like a tag the app does not render (`<lazy>`,
// `List<T>`, `<script>`) stays visible as text; the HTML models use (<sub>, <br>, <details>)
// stays markup and is sanitized as before. Outputs are parsed with jsdom and queried.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JSDOM } from 'jsdom';
import { StreamingRenderer, escapeUnknownTags, renderMarkdown, type WindowLike } from '../../../renderer/lib/markdown/index.js';

const { window } = new JSDOM('');
const win = window as unknown as WindowLike;

function render(md: string): DocumentFragment {
  const template = window.document.createElement('template');
  template.innerHTML = renderMarkdown(md, { window: win });
  return template.content;
}

const text = (frag: DocumentFragment): string => (frag.textContent ?? '').trim();
const tags = (frag: DocumentFragment): string[] => [...frag.querySelectorAll('*')].map((e) => e.localName);

describe('raw HTML the app does not render is shown as text', () => {
  it('an unknown tag in a sentence stays, with the currency amount and the number sign', () => {
    const frag = render('Over the $43,456.78 <lazy> #90 dog');
    assert.equal(text(frag), 'Over the $43,456.78 <lazy> #90 dog');
    assert.deepEqual(tags(frag), ['p']);
  });

  it('generics, comparisons written like tags, closing tags and comments', () => {
    assert.equal(text(render('`List<T>` is code, List<T> and Map<K, V> are text')), 'List<T> is code, List<T> and Map<K, V> are text');
    assert.equal(text(render('a </lazy> b <!-- note --> c <?php x ?> d')), 'a </lazy> b <!-- note --> c <?php x ?> d');
  });

  it('an unknown tag alone on its line (an HTML block) is a paragraph of text', () => {
    const frag = render('before\n\n<lazy attr="1">\n\nafter');
    assert.deepEqual([...frag.querySelectorAll('p')].map((p) => p.textContent), ['before', '<lazy attr="1">', 'after']);
  });

  it('dangerous tags are shown as their source, never as elements', () => {
    const frag = render('<script>alert(1)</script>\n\nand <iframe src="https://evil.example"></iframe> and <svg onload=alert(1)></svg>');
    assert.deepEqual(tags(frag), ['p', 'p']);
    assert.equal(frag.querySelector('p')!.textContent, '<script>alert(1)</script>');
    assert.equal(frag.querySelectorAll('p')[1]!.textContent, 'and <iframe src="https://evil.example"></iframe> and <svg onload=alert(1)></svg>');
  });

  it('inside a kept block only the unknown tags become text; the HTML models use stays markup', () => {
    const frag = render('<div>\n<lazy>inner</lazy> <b>bold</b>\n</div>');
    const div = frag.querySelector('div')!;
    assert.deepEqual(tags(frag), ['div', 'b']);
    assert.equal(div.textContent!.trim(), '<lazy>inner</lazy> bold');
    // The HTML models use (any case) stays markup, sanitized: images lose their handlers.
    const kept = render('H<sub>2</sub>O<br>x <KBD>Ctrl</KBD> <details><summary>s</summary>d</details> <img src=x onerror=alert(1)>');
    assert.ok(kept.querySelector('sub') && kept.querySelector('br') && kept.querySelector('kbd') && kept.querySelector('details summary'));
    const img = kept.querySelector('img')!;
    assert.equal(img.hasAttribute('onerror') || img.hasAttribute('src'), false);
    assert.doesNotMatch(text(kept), /</);
  });

  it('streaming shows the same text', () => {
    const source = 'Over the $43,456.78 <lazy> #90 dog\n\n<lazy>\n\nend';
    const streaming = new StreamingRenderer({ window: win });
    for (let n = 1; n <= source.length; n += 5) streaming.update(source.slice(0, n));
    streaming.update(source);
    const html = streaming.finish();
    assert.equal(html, renderMarkdown(source, { window: win }));
    assert.equal(html.match(/&lt;lazy&gt;/g)?.length, 2, html);
  });
});

describe('escapeUnknownTags', () => {
  it('keeps the tags of HTML_TAGS as written and escapes every other <', () => {
    assert.deepEqual(escapeUnknownTags('<b title="a<b">x</b> <lazy> 1 < 2'), { html: '<b title="a<b">x</b> &lt;lazy> 1 &lt; 2', keptTag: true });
    assert.deepEqual(escapeUnknownTags('<lazy>\n'), { html: '&lt;lazy>\n', keptTag: false });
  });
});
