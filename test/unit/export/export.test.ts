// Export of conversations: Markdown (math delimiters, currency, images, sections), the HTML
// file (rendered and sanitized answers, inlined KaTeX fonts and images, no script anywhere),
// KaTeX's CSS made self-contained, and safe file names. HTML output is parsed with jsdom.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JSDOM } from 'jsdom';
import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import type { WindowLike } from '../../../renderer/lib/markdown/index.js';
import { unzipSync, strFromU8 } from 'fflate';
import {
  EXPORT_CSP,
  archiveImagePaths,
  conversationToArchive,
  FALLBACK_STEM,
  conversationToHtml,
  conversationToMarkdown,
  imageFileName,
  inlineKatexFonts,
  katexFontFiles,
  escapeMarkdownText,
  neutralizeHtml,
  normalizeMathDelimiters,
  safeFileName,
  type ExportConversation,
} from '../../../renderer/lib/export/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const KATEX_DIST = path.join(ROOT, 'node_modules/katex/dist');
const { window } = new JSDOM('');
const win = window as unknown as WindowLike;
const AT = new Date(2026, 10, 29, 9, 5);
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const SHA = 'ab'.repeat(32);

function parse(html: string): Document {
  return new JSDOM(html).window.document;
}

function conv(answer: string, extra: Partial<ExportConversation> = {}): ExportConversation {
  return {
    title: 'Quadratic formula',
    messages: [
      { role: 'user', content: 'Solve it', attachments: [{ sha256: SHA, mime: 'image/jpeg', name: 'receipt.jpg', url: `/files/${SHA}` }] },
      { role: 'assistant', content: answer, status: 'complete', attachments: [] },
    ],
    ...extra,
  };
}

describe('normalizeMathDelimiters', () => {
  const cases: [string, string, string][] = [
    ['inline \\(…\\) becomes $…$', 'Roots \\(x_{1,2}\\) here', 'Roots $x_{1,2}$ here'],
    ['inline \\( with spaces is trimmed', 'so \\( a+b \\) ok', 'so $a+b$ ok'],
    ['display \\[…\\] block becomes $$…$$', 'Then\n\n\\[\nx = \\frac{-b}{2a}\n\\]\n\nDone', 'Then\n\n$$\nx = \\frac{-b}{2a}\n$$\n\nDone'],
    ['inline \\[…\\] becomes $$…$$', 'see \\[a^2\\] now', 'see $$a^2$$ now'],
    ['dollar math stays', 'Inline $x^2$ and\n\n$$\\int_0^1 x\\,dx$$', 'Inline $x^2$ and\n\n$$\\int_0^1 x\\,dx$$'],
    ['currency stays text', 'It costs $5 or $50, maybe $3.50 and $4.', 'It costs $5 or $50, maybe $3.50 and $4.'],
    ['code spans and fences stay', 'Use `\\(x\\)` then \\(y\\)\n\n```\n\\[z\\]\n```', 'Use `\\(x\\)` then $y$\n\n```\n\\[z\\]\n```'],
    ['bare environments get $$ lines', '\\begin{aligned}\na &= b\\\\\nc &= d\n\\end{aligned}', '$$\n\\begin{aligned}\na &= b\\\\\nc &= d\n\\end{aligned}\n$$'],
    ['escaped delimiters stay', 'not math: \\\\(x\\\\)', 'not math: \\\\(x\\\\)'],
    ['followed by a digit keeps its delimiters', '\\(x\\)5', '\\(x\\)5'],
    ['in a list item', '- first \\(a\\)\n- second \\[b\\]', '- first $a$\n- second $$b$$'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.equal(normalizeMathDelimiters(input), expected));
  }
});

describe('conversationToMarkdown', () => {
  const markdown = conversationToMarkdown(conv('The roots are \\(x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}\\).\n\n\\[\\sum_{k=1}^n k\\]\n\nIt costs $5 or $50.'), AT);

  it('has the title, the export date and the two sections in order', () => {
    assert.match(markdown, /^# Quadratic formula\n/);
    assert.match(markdown, /Exported from OmniFusion on 2026-11-29 09:05/);
    const you = markdown.indexOf('**You**');
    const assistant = markdown.indexOf('**Assistant**');
    assert.ok(you > 0 && assistant > you);
  });

  it('keeps math as LaTeX in dollar delimiters, and currency as text', () => {
    assert.ok(markdown.includes('$x = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}$'));
    assert.ok(markdown.includes('$$\\sum_{k=1}^n k$$'));
    assert.ok(markdown.includes('It costs $5 or $50.'));
    assert.ok(!markdown.includes('\\('));
  });

  it('names an image it was not given a saved copy of, without a link that points nowhere', () => {
    assert.ok(markdown.includes('_[image not included: receipt.jpg]_'), markdown);
    assert.ok(!markdown.includes('](receipt.jpg)'));
  });

  it('links each image to its saved copy, and writes the model and timing line under answers', () => {
    const c = conv('Done.');
    const answer = { ...c.messages[1]!, model: 'omnifusion-tiny', executionProvider: 'cpu', timings: { timeToFirstTokenMs: 500, totalMs: 2500, completionTokens: 41 } };
    const md = conversationToMarkdown({ ...c, messages: [c.messages[0]!, answer] }, AT, archiveImagePaths(c));
    assert.ok(md.includes('![receipt.jpg](images/receipt.jpg)'), md);
    // 40 tokens after the first in 2.0 s.
    assert.equal(viewer.render(md.split('\n\n').at(-1)!).trim(), '<p><em>omnifusion-tiny · cpu · 41 tokens · 20.0 tok/s · 2.5 s</em></p>');
  });

  it('keeps the user text as typed and marks unfinished answers', () => {
    const md = conversationToMarkdown(
      { title: '', messages: [{ role: 'user', content: 'price \\(x\\)', attachments: [] }, { role: 'assistant', content: 'half', status: 'partial', attachments: [] }] },
      AT,
    );
    assert.match(md, /^# Conversation\n/);
    assert.ok(md.includes('price \\\\(x\\\\)'), 'backslashes escaped, so no viewer reads math');
    assert.equal(viewer.render(md.split('\n\n').find((p) => p.startsWith('price'))!).trim(), '<p>price \\(x\\)</p>');
    assert.match(md, /_Answer stopped before it was complete\._/);
  });
});

// A Markdown viewer that renders raw HTML (as many do), with no math support.
const viewer = new MarkdownIt({ html: true, linkify: false, typographer: false });

function htmlAndImages(tokens: readonly Token[]): Token[] {
  return tokens.flatMap((t) => [
    ...(t.type === 'html_block' || t.type === 'html_inline' || t.type === 'image' ? [t] : []),
    ...htmlAndImages(t.children ?? []),
  ]);
}

/** What a viewer shows for Markdown `md`, as text. */
function shown(md: string): string {
  return new JSDOM(viewer.render(md)).window.document.body.textContent ?? '';
}

describe('Markdown export: no raw HTML or remote image reaches a viewer', () => {
  const HOSTILE = [
    '<img src="https://evil.example/p.gif">',
    'inline <img src="https://evil.example/p.gif"> tag',
    '<iframe src="https://evil.example/f"></iframe>',
    '<form action="https://evil.example/f"><input name="q"></form>',
    '<script>alert(1)</script>',
    '<!-- c --><?php x ?><![CDATA[x]]><!DOCTYPE html>',
    '<https://evil.example/auto>',
    '![t](https://evil.example/t.png) and ![r][ref]\n\n[ref]: https://evil.example/r.png',
    '\\\\<img src="https://evil.example/e.gif">',
    '> quoted <img src="https://evil.example/q.gif">',
    '- item <iframe src="https://evil.example/l"></iframe>',
    '`code` <img src="https://evil.example/c.gif"> `<img src=x>`',
    '$x<img src="https://evil.example/m.gif">$',
    '$$\n<img src="https://evil.example/d.gif">\n$$',
  ];

  for (const payload of HOSTILE) {
    it(`answer is inert: ${payload.replace(/\n/g, '\\n')}`, () => {
      const out = neutralizeHtml(payload);
      assert.deepEqual(htmlAndImages(viewer.parse(out, {})).map((t) => t.content || t.type), []);
      assert.doesNotMatch(viewer.render(out), /<(img|iframe|form|script|input)\b/i);
    });
  }

  it('keeps hostile text readable', () => {
    assert.equal(shown(neutralizeHtml('see <img src="https://evil.example/p.gif"> here')).trim(), 'see <img src="https://evil.example/p.gif"> here');
    assert.equal(shown(neutralizeHtml('<script>alert(1)</script>')).trim(), '<script>alert(1)</script>');
    assert.match(shown(neutralizeHtml('![t](https://evil.example/t.png)')), /^!t/);
  });

  it('leaves math, code, currency and plain comparisons unchanged', () => {
    for (const text of [
      'If $a<b$ and $0<x<1$ then \\(c<d\\) holds',
      '$$\n\\{x \\mid x<y\\}\n$$',
      '```html\n<div class="x"><img src="a.png"></div>\n```',
      '    <b>indented code</b>',
      'Use `<br>` or ``a `<b>` c`` here',
      'It costs $5 or $50, maybe $3.50 and $4.',
      'a < b, x<5 and 3 > 2',
      '\\<b> is escaped already, so is \\![x](y)',
      '- list\n\n> quote $a<b$\n\n| a | b |\n|---|---|\n| `<i>` | $x<y$ |',
    ]) {
      assert.equal(neutralizeHtml(text), text);
    }
  });

  it('conversationToMarkdown: hostile answer, user text and title come out inert', () => {
    const c: ExportConversation = {
      title: '<img src="https://evil.example/title.gif"> # *T* \\(x\\)',
      messages: [
        { role: 'user', content: '<img src="https://evil.example/p.gif">\n<iframe src="https://evil.example/f"></iframe>\n# not a heading\n1. not a list\n    not code $5 or $50 `x` ![i](https://evil.example/u.png) &amp;', attachments: [{ sha256: SHA, mime: 'image/png', name: 'a.png' }] },
        { role: 'assistant', content: 'Answer $a<b$ <img src="https://evil.example/a.gif"><form action="x"><input></form><script>alert(1)</script>\n\n```html\n<b>kept</b>\n```\n\nIt costs $5 or $50.', status: 'complete', attachments: [] },
      ],
    };
    const md = conversationToMarkdown(c, AT, archiveImagePaths(c));
    const found = htmlAndImages(viewer.parse(md, {}));
    assert.deepEqual(found.map((t) => `${t.type} ${t.attrGet('src') ?? t.content}`), ['image images/a.png'], 'only the attachment, by its saved copy');
    const doc = new JSDOM(viewer.render(md)).window.document;
    assert.equal(doc.querySelector('h1')?.textContent, '<img src="https://evil.example/title.gif"> # *T* \\(x\\)');
    const user = md.split('\n\n---\n\n')[1]!.split('\n\n').slice(2).join('\n\n');
    assert.equal(shown(user).trim(), '<img src="https://evil.example/p.gif">\n<iframe src="https://evil.example/f"></iframe>\n# not a heading\n1. not a list\n    not code $5 or $50 `x` ![i](https://evil.example/u.png) &amp;');
    assert.ok(md.includes('Answer $a<b$ &lt;img'));
    assert.ok(md.includes('```html\n<b>kept</b>\n```'));
    assert.ok(md.includes('It costs $5 or $50.'));
    assert.equal(doc.querySelectorAll('img, iframe, form, input, script').length, 1, 'only the attachment <img>');
  });

  it('conversationToMarkdown: no javascript: (or other unsafe) link survives, in any spelling', () => {
    const hostile = [
      '[click](javascript:alert(1))',
      '[click](JavaScript:alert(2))',
      '[click](  jAvAsCrIpT:alert(3))',
      '[click](<javascript:alert(4)>)',
      '[click](java&#115;cript:alert(5))',
      '[click](&#x6A;avascript:alert(6))',
      '[ref link][r] and [r]\n\n[r]: javascript:alert(7)',
      '[data](data:text/html;base64,PHNjcmlwdD5hbGVydCg4KTwvc2NyaXB0Pg==)',
      '[vb](vbscript:msgbox(9))',
      'safe [docs](https://example.org) then [x](javascript:alert(10)) and `[code](javascript:kept)`',
    ];
    // Viewers that take any destination (markdown-it refuses javascript: itself; others may not).
    const permissive = new MarkdownIt({ html: true });
    permissive.validateLink = () => true;
    for (const content of hostile) {
      const md = conversationToMarkdown({ title: 'T', messages: [{ role: 'assistant', content, status: 'complete', attachments: [] }] }, AT);
      const links: string[] = [];
      const walk = (tokens: readonly Token[]) => {
        for (const t of tokens) {
          if (t.type === 'link_open') links.push(t.attrGet('href') ?? '');
          walk(t.children ?? []);
        }
      };
      walk(permissive.parse(md, {}));
      // A scheme as a browser reads it: leading spaces and controls dropped, any case.
      const scheme = (h: string) => /^([a-z][a-z0-9+.-]*):/i.exec(h.replace(/^[\u0000-\u0020]+/, ''))?.[1]?.toLowerCase();
      assert.deepEqual(links.filter((h) => { const s = scheme(h); return s !== undefined && !['http', 'https', 'mailto'].includes(s); }), [], `${content} → ${md}`);
    }
    // Defused, the answer still reads as written.
    const defused = conversationToMarkdown({ title: 'T', messages: [{ role: 'assistant', content: hostile[0]!, status: 'complete', attachments: [] }] }, AT);
    assert.match(new JSDOM(permissive.render(defused)).window.document.body.textContent!, /\[click\]\(javascript:alert\(1\)\)/);
    // A safe answer keeps its links.
    const safe = conversationToMarkdown({ title: 'T', messages: [{ role: 'assistant', content: 'see [docs](https://example.org)', status: 'complete', attachments: [] }] }, AT);
    assert.ok(safe.includes('[docs](https://example.org)'));
  });

  it('conversationToMarkdown: attachment names are escaped, never markup', () => {
    const names = ['<img src=x onerror=alert(1)>.png', 'a](javascript:alert(2)).png', '*bold* _x_ `c` $m$.png'];
    const c: ExportConversation = { title: 'T', messages: [{ role: 'user', content: 'q', attachments: names.map((name, i) => ({ sha256: String(i).repeat(64), mime: 'image/png', name })) }] };
    const md = conversationToMarkdown(c, AT, archiveImagePaths(c));
    const found = htmlAndImages(viewer.parse(md, {}));
    assert.deepEqual(found.map((t) => t.type), ['image', 'image', 'image'], `only images: ${md}`);
    const doc = new JSDOM(viewer.render(md)).window.document;
    assert.equal(doc.querySelectorAll('code, a, script, iframe').length, 0, md);
    const alts = [...doc.querySelectorAll('img')].map((img) => img.getAttribute('alt') ?? '');
    assert.deepEqual(alts.map((alt) => /[<>[\]`*_$\\]/.test(alt)), [false, false, false], `no markup characters in the alt texts: ${alts.join(' | ')}`);
    assert.deepEqual(alts.map((alt) => alt.match(/img|onerror|javascript|bold|png/g)?.join(' ')), ['img onerror png', 'javascript png', 'bold png'], 'they still read as the names');
    for (const img of doc.querySelectorAll('img')) assert.doesNotMatch(img.getAttribute('src') ?? '', /^\s*javascript:/i);
  });

  it('escapeMarkdownText keeps line breaks and reads back as typed', () => {
    const text = 'a\nb\n\n- c\n+ d\n10) e\n===\n***\n\ttab';
    const out = escapeMarkdownText(text);
    assert.equal(new JSDOM(viewer.render(out)).window.document.querySelectorAll('ul, ol, h1, h2, hr, pre, code, em, strong').length, 0);
    assert.equal(shown(out).replace(/\n+/g, '\n').trim(), text.replace(/\n+/g, '\n'));
  });
});

describe('conversationToHtml', () => {
  const options = { window: win, katexCss: '.katex{font:normal 1.21em KaTeX_Main}', images: { [SHA]: PNG }, exportedAt: AT };

  it('keeps KaTeX\'s svg and drops the model\'s', () => {
    const doc = parse(conversationToHtml(conv('$\\sqrt{x}$ and $\\overrightarrow{AB}$ <svg width="5000" height="5000"></svg> <svg></svg>'), options));
    const answer = doc.querySelector('.message.assistant .markdown')!;
    assert.equal(answer.querySelectorAll('.katex').length, 2);
    assert.equal(answer.querySelectorAll('svg').length, answer.querySelectorAll('.katex svg').length);
    assert.ok(answer.querySelectorAll('.katex svg').length >= 2);
  });

  it('writes the model and timing line under an answer, as text', () => {
    const c = conv('ok');
    const answer = { ...c.messages[1]!, model: '<b>m</b>', timings: { totalMs: 1500, completionTokens: 1 } };
    const doc = parse(conversationToHtml({ ...c, messages: [c.messages[0]!, answer] }, options));
    assert.equal(doc.querySelector('.message.assistant .meta')?.textContent, '<b>m</b> · 1 tokens · 1.5 s');
    assert.equal(doc.querySelectorAll('.message.user .meta').length, 0);
  });

  it('renders math with KaTeX and keeps currency as text', () => {
    const doc = parse(conversationToHtml(conv('Inline $x^2$ and\n\n$$\\int_0^1 x\\,dx$$\n\nIt costs $5 or $50.'), options));
    const answer = doc.querySelector('.message.assistant .markdown')!;
    assert.equal(answer.querySelectorAll('.katex').length, 2);
    assert.equal(answer.querySelectorAll('.katex-display').length, 1);
    assert.match(answer.textContent ?? '', /It costs \$5 or \$50\./);
  });

  it('is one offline page: CSP meta without scripts, inlined CSS and images, the title', () => {
    const html = conversationToHtml(conv('ok'), options);
    const doc = parse(html);
    assert.equal(doc.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content'), EXPORT_CSP);
    assert.match(EXPORT_CSP, /default-src 'none'/);
    assert.doesNotMatch(EXPORT_CSP, /script-src/);
    assert.equal(doc.title, 'Quadratic formula');
    assert.ok(doc.querySelector('style')?.textContent?.includes('KaTeX_Main'));
    const img = doc.querySelector('.message.user img')!;
    assert.equal(img.getAttribute('src'), PNG);
    assert.equal(img.getAttribute('alt'), 'receipt.jpg');
    assert.equal(doc.querySelector('.message.user .plain')?.textContent, 'Solve it');
    assert.doesNotMatch(html, /https?:\/\//);
  });

  it('uses the macros earlier answers defined, in order, as the chat window does (conversationMacros)', () => {
    const c: ExportConversation = {
      title: 'Vectors',
      messages: [
        { role: 'user', content: 'Before: is $\\myvec{u}$ defined? $\\newcommand{\\myvec}[1]{\\mathsf{#1}}$', attachments: [] },
        { role: 'assistant', content: 'Early use: $\\myvec{a}$.', attachments: [] },
        { role: 'user', content: 'Define it', attachments: [] },
        { role: 'assistant', content: 'Write vectors as $\\newcommand{\\myvec}[1]{\\mathbf{#1}}\\myvec{u}$.', attachments: [] },
        { role: 'user', content: 'And then?', attachments: [] },
        { role: 'assistant', content: 'Then $\\myvec{v} + w$ is a sum.', attachments: [] },
      ],
    };
    const answers = [...parse(conversationToHtml(c, options)).querySelectorAll('.message.assistant .markdown')];
    const sources = (el: Element) => [...el.querySelectorAll('code.math-source')].map((s) => s.textContent);
    const identifiers = (el: Element) => [...el.querySelectorAll('.katex-mathml mi')].map((mi) => `${mi.textContent}:${mi.getAttribute('mathvariant') ?? ''}`);
    assert.equal(answers.length, 3);
    assert.deepEqual(sources(answers[0]!), ['$\\myvec{a}$'], 'a macro of a later answer (or of a user message) does not apply before it');
    assert.deepEqual(identifiers(answers[1]!), ['u:bold']);
    assert.deepEqual(sources(answers[2]!), [], 'the later answer uses the earlier answer\'s \\newcommand');
    assert.deepEqual(identifiers(answers[2]!), ['v:bold', 'w:']);
  });

  it('names an image it has no bytes for, and refuses non-raster data URIs', () => {
    const doc = parse(conversationToHtml(conv('ok'), { ...options, images: { [SHA]: 'data:image/svg+xml;base64,PHN2Zz4=' } }));
    assert.equal(doc.querySelectorAll('img').length, 0);
    assert.match(doc.querySelector('.missing')?.textContent ?? '', /receipt\.jpg/);
  });

  it('never yields a script or an event handler from hostile messages', () => {
    const hostile = [
      'Formula $x^2$ and <img src=x onerror=alert(1)>',
      '<script>alert(2)</script>',
      '[click](javascript:alert(3)) <a href="javascript:alert(4)" onclick="alert(5)">x</a>',
      '$\\href{javascript:alert(6)}{x}$',
      '<svg onload="alert(7)"></svg><svg width="5000" height="5000"></svg><iframe src="javascript:alert(8)"></iframe><object data="x"></object>',
      '<style>body{background:url(https://evil.example/x)}</style><base href="https://evil.example/">',
      '</article></main><script>alert(9)</script>',
    ].join('\n\n');
    const c: ExportConversation = {
      title: '<script>alert(10)</script>',
      messages: [
        { role: 'user', content: '<img src=x onerror=alert(11)><script>alert(12)</script>', attachments: [{ sha256: SHA, mime: 'image/png', name: '"><script>alert(13)</script>.png' }] },
        { role: 'assistant', content: hostile, attachments: [] },
      ],
    };
    const html = conversationToHtml(c, options);
    assert.doesNotMatch(html, /<script/i);
    const doc = parse(html);
    assert.equal(doc.querySelectorAll('script, iframe, object, embed, base, form, link').length, 0);
    assert.equal(doc.querySelectorAll('style').length, 2, 'only the page\'s own two style elements');
    for (const el of doc.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        assert.doesNotMatch(attr.name, /^on/i, `${el.localName} has ${attr.name}`);
        // (LaTeX source in data-latex and link text may mention it; no URL-bearing attribute may.)
        if (attr.name !== 'data-latex') assert.doesNotMatch(attr.value, /^\s*javascript:/i, `${el.localName} ${attr.name}=${attr.value}`);
      }
    }
    assert.ok(doc.querySelector('.message.assistant .katex'), 'the formula still renders');
    assert.equal(doc.querySelectorAll('svg').length, 0, 'no svg of the model\'s');
    assert.equal(doc.querySelector('.message.user .plain')?.textContent, '<img src=x onerror=alert(11)><script>alert(12)</script>');
  });
});

describe('inlineKatexFonts', () => {
  const css = readFileSync(path.join(KATEX_DIST, 'katex.min.css'), 'utf8');
  const files = katexFontFiles(css);
  const fonts = Object.fromEntries(files.map((f) => [f, `data:font/woff2;base64,${readFileSync(path.join(KATEX_DIST, 'fonts', f)).toString('base64')}`]));

  it('finds every WOFF2 font the package ships', () => {
    const shipped = readdirSync(path.join(KATEX_DIST, 'fonts')).filter((f) => f.endsWith('.woff2'));
    assert.deepEqual([...files].sort(), shipped.sort());
  });

  it('keeps only WOFF2, as data: URIs, for every @font-face', () => {
    const out = inlineKatexFonts(css, fonts);
    const faces = out.match(/@font-face\{[^}]*\}/g) ?? [];
    assert.equal(faces.length, files.length);
    for (const face of faces) {
      assert.match(face, /src:url\(data:font\/woff2;base64,[A-Za-z0-9+/=]+\) format\("woff2"\)/);
      assert.doesNotMatch(face, /\.woff\b|\.ttf|truetype|url\(fonts/);
      assert.match(face, /font-family:"?KaTeX_/);
    }
    assert.doesNotMatch(out, /url\((?!data:)/);
    // The rest of the stylesheet is untouched.
    assert.ok(out.includes('.katex .mfrac'));
    // Size: the fonts dominate; WOFF2 only keeps it well under 400 kB.
    assert.ok(out.length < 400_000, `${out.length} characters`);
  });

  it('drops the src of a font it was not given, and defuses </style', () => {
    const out = inlineKatexFonts(`${css}/*</style><script>*/`, {});
    assert.doesNotMatch(out, /url\(/);
    assert.doesNotMatch(out, /<\/style/i);
  });
});

describe('safeFileName', () => {
  const cases: [string, string, string][] = [
    ['plain title', 'Quadratic formula', 'Quadratic formula.md'],
    ['slashes, colons and question marks', 'Integral of x/2: why?', 'Integral of x 2 why.md'],
    ['backslashes and reserved punctuation', 'a\\b*c"d<e>f|g', 'a b c d e f g.md'],
    ['control characters and newlines', 'line1\nline2\u0000\u0007\u009f', 'line1 line2.md'],
    ['bidi overrides', 'invoice\u202Egpj.exe', 'invoicegpj.exe.md'],
    ['path traversal', '../../etc/passwd', 'etc passwd.md'],
    ['only dots and spaces', ' .. ', `${FALLBACK_STEM}.md`],
    ['empty', '', `${FALLBACK_STEM}.md`],
    ['Windows reserved name', 'CON', `${FALLBACK_STEM}.md`],
  ];
  for (const [name, title, expected] of cases) it(name, () => assert.equal(safeFileName(title, 'md'), expected));

  it('cuts long titles to 80 characters at a code-point boundary', () => {
    const name = safeFileName('𝑥'.repeat(200), 'html');
    assert.equal(Array.from(name.slice(0, -'.html'.length)).length, 80);
    assert.ok(name.endsWith('.html'));
    assert.ok(!/[\ud800-\udbff]\./.test(name), 'no lone surrogate before the extension');
  });

  it('names images by their attached name or their hash', () => {
    assert.equal(imageFileName({ sha256: SHA, mime: 'image/jpeg', name: 'receipt.jpg' }), 'receipt.jpg');
    assert.equal(imageFileName({ sha256: SHA, mime: 'image/png', name: '' }), `image-${SHA.slice(0, 12)}.png`);
    assert.equal(imageFileName({ sha256: SHA, mime: 'image/png', name: '../x/y.png' }), 'x y.png');
  });
});

describe('Markdown archive with images', () => {
  const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]);
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 8, 7]);
  const other = 'cd'.repeat(32);
  const third = 'ef'.repeat(32);
  const c: ExportConversation = {
    title: 'Receipts: a/b',
    messages: [
      { role: 'user', content: 'two receipts', attachments: [{ sha256: SHA, mime: 'image/jpeg', name: 'scan.jpg' }, { sha256: other, mime: 'image/png', name: 'SCAN.jpg' }] },
      { role: 'assistant', content: 'Totals differ.', status: 'complete', attachments: [], model: 'm' },
      { role: 'user', content: 'again', attachments: [{ sha256: SHA, mime: 'image/jpeg', name: 'scan.jpg' }, { sha256: third, mime: 'image/png', name: 'lost.png' }] },
    ],
  };

  it('holds a folder with the .md and the images, bytes as attached, every link resolving inside it', () => {
    const { name, bytes } = conversationToArchive(c, new Map([[SHA, jpeg], [other, png]]), AT);
    assert.equal(name, 'Receipts a b.zip');
    const files = unzipSync(bytes);
    assert.deepEqual(Object.keys(files).filter((f) => !f.endsWith('/')).sort(), ['Receipts a b/Receipts a b.md', 'Receipts a b/images/SCAN-2.jpg', 'Receipts a b/images/scan.jpg']);
    assert.deepEqual(files['Receipts a b/images/scan.jpg'], jpeg);
    assert.deepEqual(files['Receipts a b/images/SCAN-2.jpg'], png);
    const md = strFromU8(files['Receipts a b/Receipts a b.md']!);
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]!);
    assert.deepEqual(links, ['images/scan.jpg', 'images/SCAN-2.jpg', 'images/scan.jpg']);
    for (const link of links) assert.ok(files[`Receipts a b/${link}`], link);
    assert.ok(md.includes('_[image not included: lost.png]_'), 'an image that could not be fetched is named');
  });

  it('archiveImagePaths: one path per image, names unique without regard to case', () => {
    assert.deepEqual([...archiveImagePaths(c).values()], ['images/scan.jpg', 'images/SCAN-2.jpg', 'images/lost.png']);
  });
});

