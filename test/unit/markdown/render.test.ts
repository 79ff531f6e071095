// Rendering of answers: math delimiters, currency, code, environments, the normalizing
// pass, source fallback, sanitizing and streaming. Outputs are parsed with jsdom and
// queried, never compared as strings (except streaming vs whole render).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';
import katex from 'katex';
import {
  StreamingRenderer,
  KATEX_ERROR_COLOR,
  checkExternalHref,
  markKatexSvg,
  renderMarkdown,
  sanitize,
  type WindowLike,
} from '../../../renderer/lib/markdown/index.js';

const { window } = new JSDOM('');
const win = window as unknown as WindowLike;

function parse(html: string): DocumentFragment {
  const template = window.document.createElement('template');
  template.innerHTML = html;
  return template.content;
}

function render(md: string): DocumentFragment {
  return parse(renderMarkdown(md, { window: win }));
}

/** Text of the fragment outside rendered formulas. */
function plainText(frag: DocumentFragment): string {
  const copy = frag.cloneNode(true) as DocumentFragment;
  for (const el of copy.querySelectorAll('.math')) el.remove();
  return copy.textContent ?? '';
}

interface Case {
  name: string;
  md: string;
  /** `data-latex` of each rendered formula, in order (a rendered formula has a `.katex` and no error). */
  math?: string[];
  /** Display mode of each rendered formula, in order. */
  display?: boolean[];
  /** Table rows (`mtr`) in the MathML of the first formula. */
  rows?: number;
  /** Text that must appear literally outside formulas. */
  text?: string[];
  /** Text of the `code` elements (code spans and fences), in order. */
  code?: string[];
  /** Formulas shown as their source, in order (`code.math-source` text). */
  source?: string[];
}

const IM2LATEX_DE8A = String.raw`\rho^0 = \left( \begin{array}{cc} 0 & -i \\ i & 0\end{array}\right)\,\,\, \mbox{and}\,\,\, \rho^1 = \left( \begin{array}{cc} 0 & i \\ i & 0\end{array}\right) .`;
const IM2LATEX_632E =
  '\\left\\{\\begin{array}{c}\t\\partial_{\\tau}R+\\vec\\nabla\\cdot\t\\left(\\vec\\nabla\\Theta\\,\\sqrt{\\displaystyle\\frac{R^2+a^2}\t{1+(\\vec\\nabla\\Theta)^2}}\\right)=0,\\hfill\\\\[4mm]\t\\partial_{\\tau}\\Theta+R\\sqrt{\t\\displaystyle\\frac{1+(\\vec\\nabla\\Theta)^2}\t{R^2+a^2}}=0.\\hfill\\\\     \\end{array}\\right.     \\label{JPeqmot}';
const IM2LATEX_3106 = String.raw`g^>_n(r,r')=E_n K_{|n/\alpha|}(\beta r), \quad \hbox{for $r>r^{'}$.}\label{22}`;
const CROHME_MALFORMED = String.raw`R_g\ltq^{-1}\ltl_0`;
const SZELISKI_TAG = String.raw`E_{\mathrm{WSSD}}(\mathbf{u})=\sum_i w(\mathbf{x}_i)[I_1(\mathbf{x}_i+\mathbf{u})-I_0(\mathbf{x}_i)]^2, \tag{7.1}`;
const TEXIFY_0 = String.raw`The potential $V_ i$ of cell $\mathcal{C}_ i$ centred at position $\mathbf{r}_ i$ is related to the surface charge densities $\sigma_ j$ of cells $\mathcal{C}_ j$ $j\in[1,N]$ through the superposition principle as: $$V_ i = \sum_ {j=0}^{N} \frac{\sigma_ j}{4\pi\varepsilon_ 0} \int_ {\mathcal{C}_ j} \frac{1}{|\mathbf{r}_ i-\mathbf{r}'|} \mathrm{d}^2\mathbf{r}' = \sum_{j=0}^{N} Q_ {ij} \sigma_ j,$$ where the integral over the surface of cell $\mathcal{C}_ j$ only depends on $\mathcal{C}_ j$ shape.`;

const CASES: Case[] = [
  // The four delimiters, inline and as blocks.
  { name: 'dollar inline', md: 'Area is $\\pi r^2$ here.', math: ['\\pi r^2'], display: [false], text: ['Area is', 'here.'] },
  { name: 'double dollar block', md: '$$\\int_0^1 f(x)\\,dx$$', math: ['\\int_0^1 f(x)\\,dx'], display: [true] },
  { name: 'paren inline', md: 'Then \\(a+b\\) holds.', math: ['a+b'], display: [false], text: ['Then', 'holds.'] },
  { name: 'bracket block', md: '\\[\n\\frac{1}{2}\n\\]', math: ['\\frac{1}{2}'], display: [true] },
  { name: 'double dollar inside a paragraph', md: 'Energy $$E=mc^2$$ holds.', math: ['E=mc^2'], display: [true], text: ['Energy', 'holds.'] },
  { name: 'bracket inside a paragraph', md: 'so \\[x^2\\] ok', math: ['x^2'], display: [true], text: ['so', 'ok'] },
  { name: 'multi-line double dollar block', md: '$$\na = b\n+ c\n$$', math: ['a = b\n+ c'], display: [true] },
  { name: 'display block right after a text line', md: 'Consider:\n$$\nx+1\n$$\nThen done.', math: ['x+1'], display: [true], text: ['Consider:', 'Then done.'] },
  { name: 'math in list items', md: '- item $x$\n- $$y$$', math: ['x', 'y'], display: [false, true] },
  { name: 'display block in a blockquote', md: '> $$\n> a+b\n> $$', math: ['a+b'], display: [true] },
  { name: 'texify paragraph mixing $ and $$', md: TEXIFY_0, math: ['V_ i', '\\mathcal{C}_ i', '\\mathbf{r}_ i', '\\sigma_ j', '\\mathcal{C}_ j', 'j\\in[1,N]', String.raw`V_ i = \sum_ {j=0}^{N} \frac{\sigma_ j}{4\pi\varepsilon_ 0} \int_ {\mathcal{C}_ j} \frac{1}{|\mathbf{r}_ i-\mathbf{r}'|} \mathrm{d}^2\mathbf{r}' = \sum_{j=0}^{N} Q_ {ij} \sigma_ j,`, '\\mathcal{C}_ j', '\\mathcal{C}_ j'] },

  // Currency stays text; \$ is a dollar.
  { name: 'currency: $5 or $50', md: 'Pay $5 or $50.', math: [], text: ['Pay $5 or $50.'] },
  { name: 'currency: costs $3.50 and $4', md: 'It costs $3.50 and $4 today.', math: [], text: ['It costs $3.50 and $4 today.'] },
  { name: 'currency: a range $5-$10', md: 'between $5-$10 each', math: [], text: ['between $5-$10 each'] },
  { name: 'escaped dollars', md: 'price \\$10 and \\$20', math: [], text: ['price $10 and $20'] },
  { name: 'dollar followed by a space', md: 'a $ x $ b', math: [], text: ['a $ x $ b'] },
  { name: 'currency then real math', md: 'It is $5, and $x^2$ is math.', math: ['x^2'], text: ['It is $5, and', 'is math.'] },
  { name: 'closing dollar followed by a digit', md: 'from $x$5 on', math: [], text: ['from $x$5 on'] },
  { name: 'escaped dollar inside math', md: 'Cost: $\\$0.60$ each', math: ['\\$0.60'], text: ['Cost:', 'each'] },

  // Code spans and blocks win.
  { name: 'code span with $x$', md: 'Use `$x$` here', math: [], code: ['$x$'] },
  { name: 'code span with \\(x\\)', md: 'Use `\\(x\\)` and `\\[y\\]`', math: [], code: ['\\(x\\)', '\\[y\\]'] },
  { name: 'fenced block with math', md: '```\n$x$ and $$y$$\n\\[z\\]\n```', math: [], code: ['$x$ and $$y$$\n\\[z\\]\n'] },
  { name: 'indented code block', md: 'text\n\n    $x^2$\n', math: [], code: ['$x^2$\n'] },
  { name: 'math cannot swallow a code span', md: 'a $b `c$` d', math: [], code: ['c$'] },
  { name: 'texify GUI: OCR echo in a fence', md: '```latex\n$$D F T(y)[k]=\\sum_{n}y[n]\\exp(-2\\pi i n k/N)$$\n```', math: [], code: ['$$D F T(y)[k]=\\sum_{n}y[n]\\exp(-2\\pi i n k/N)$$\n'] },

  // Matrices and environments; \\ row breaks survive Markdown.
  { name: 'pmatrix', md: '$$\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}$$', math: ['\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}'], rows: 2 },
  { name: 'bmatrix inline', md: 'M = $\\begin{bmatrix}a\\\\b\\\\c\\end{bmatrix}$.', math: ['\\begin{bmatrix}a\\\\b\\\\c\\end{bmatrix}'], rows: 3 },
  { name: 'cases (Pix2Text hw-formula3)', md: '$$\\begin{cases}\\frac{dy}{dx}+y=3\\\\ \\frac{d^2y}{dx^2}+3\\left(\\frac{dy}{dx}\\right)^3+y=0\\end{cases}$$', math: ['\\begin{cases}\\frac{dy}{dx}+y=3\\\\ \\frac{d^2y}{dx^2}+3\\left(\\frac{dy}{dx}\\right)^3+y=0\\end{cases}'], rows: 2 },
  { name: 'cases inline with \\( (Pix2Text formula5)', md: 'Solve \\(\\begin{cases}25a-5b+c=1\\\\ a-b+c=1\\\\ 9a-3b+c=0\\end{cases}\\)', math: ['\\begin{cases}25a-5b+c=1\\\\ a-b+c=1\\\\ 9a-3b+c=0\\end{cases}'], rows: 3 },
  { name: 'aligned with row spacing', md: '$$\\begin{aligned}a&=b\\\\[4mm]c&=d\\end{aligned}$$', math: ['\\begin{aligned}a&=b\\\\[4mm]c&=d\\end{aligned}'], rows: 2 },
  { name: 'bare aligned environment', md: '\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}', math: ['\\begin{aligned}\na &= b \\\\\nc &= d\n\\end{aligned}'], display: [true], rows: 2 },
  { name: 'bare cases after a text line', md: 'We get\n\\begin{cases}x & x>0\\\\-x & x\\le 0\\end{cases}', math: ['\\begin{cases}x & x>0\\\\-x & x\\le 0\\end{cases}'], display: [true], rows: 2, text: ['We get'] },

  // (c) Display-only environments written inline.
  { name: 'inline align alone is promoted to display', md: 'see $\\begin{align}a&=b\\\\c&=d\\end{align}$', math: ['\\begin{align}a&=b\\\\c&=d\\end{align}'], display: [true], rows: 2 },
  { name: 'inline align* inside a formula becomes aligned', md: '$x = \\begin{align*}a&=b\\end{align*}$', math: ['x = \\begin{align*}a&=b\\end{align*}'], display: [false] },
  { name: 'inline equation with a label is promoted', md: '$\\begin{equation}E=mc^2\\label{eq:1}\\end{equation}$', math: ['\\begin{equation}E=mc^2\\label{eq:1}\\end{equation}'], display: [true] },
  { name: 'eqnarray (unknown to KaTeX) in display', md: '$$\\begin{eqnarray}a&=&b\\\\c&=&d\\end{eqnarray}$$', math: ['\\begin{eqnarray}a&=&b\\\\c&=&d\\end{eqnarray}'], rows: 2 },
  { name: 'multline inline', md: '$\\begin{multline}a+b\\\\+c\\end{multline}$', math: ['\\begin{multline}a+b\\\\+c\\end{multline}'], display: [true] },
  { name: 'gather inside an inline formula', md: '$y = \\begin{gather}a\\\\b\\end{gather}$', math: ['y = \\begin{gather}a\\\\b\\end{gather}'], display: [false], rows: 2 },

  // (a) (b) (d) (e) (f) (g) Unsupported constructs, by kind.
  { name: '(a) \\label in inline math', md: '$\\label{x} a+b$', math: ['\\label{x} a+b'] },
  { name: '(a) \\hfill and \\vspace', md: '$$a \\hfill b\\vspace{2mm}$$', math: ['a \\hfill b\\vspace{2mm}'] },
  { name: '(a) \\nonumber and \\notag', md: '$$\\begin{align}a&=b\\nonumber\\\\c&=d\\notag\\end{align}$$', math: ['\\begin{align}a&=b\\nonumber\\\\c&=d\\notag\\end{align}'] },
  { name: '(b) \\mbox', md: '$x \\mbox{and} y$', math: ['x \\mbox{and} y'] },
  { name: '(b) \\hbox with nested $…$', md: '$a, \\hbox{for $r>0$} b$', math: ['a, \\hbox{for $r>0$} b'] },
  { name: '(b) \\textsc and \\makebox', md: '$\\textsc{Id} + \\makebox[2cm][l]{x}$', math: ['\\textsc{Id} + \\makebox[2cm][l]{x}'] },
  { name: '(d) \\tag in inline math', md: 'eq $a=b \\tag{1}$', math: ['a=b \\tag{1}'], display: [false] },
  { name: '(d) two \\tag in display math', md: '$$a=b\\tag{1}\\tag{2}$$', math: ['a=b\\tag{1}\\tag{2}'] },
  { name: '(e) \\newcommand of a predefined name', md: '$\\newcommand{\\R}{\\mathbb{R}} x\\in\\R$', math: ['\\newcommand{\\R}{\\mathbb{R}} x\\in\\R'] },
  { name: '(e) user macro reused by a later formula', md: 'Let $\\newcommand{\\myv}{\\mathbf{v}}\\myv$ and then $\\myv + 1$.', math: ['\\newcommand{\\myv}{\\mathbf{v}}\\myv', '\\myv + 1'] },
  { name: '(e) \\DeclareMathOperator', md: '$\\DeclareMathOperator{\\Tr}{Tr}\\Tr A$', math: ['\\DeclareMathOperator{\\Tr}{Tr}\\Tr A'] },
  { name: '(e) \\renewcommand of an unknown name', md: '$\\renewcommand{\\foo}{x}\\foo$', math: ['\\renewcommand{\\foo}{x}\\foo'] },
  { name: '(f) no-break spaces', md: '$a\u00a0+\u00a0b$', math: ['a\u00a0+\u00a0b'] },
  { name: '(f) \\\\[…] that is no dimension', md: '$$\\begin{aligned}x&=1\\\\[a,b]&=2\\end{aligned}$$', math: ['\\begin{aligned}x&=1\\\\[a,b]&=2\\end{aligned}'], rows: 2 },
  { name: '(g) package command \\mathbbm', md: '$\\mathbbm{1}_A$', math: ['\\mathbbm{1}_A'] },
  { name: 'CROHME malformed GT renders split', md: `$${CROHME_MALFORMED}$`, math: [CROHME_MALFORMED] },

  // Ground-truth strings from testdata/real (printed math), inside $$…$$.
  { name: 'im2latex de8a312222 (\\mbox)', md: `$$${IM2LATEX_DE8A}$$`, math: [IM2LATEX_DE8A] },
  { name: 'im2latex 632e971eb8 (\\hfill, \\\\[4mm], tabs, \\label)', md: `$$\n${IM2LATEX_632E}\n$$`, math: [IM2LATEX_632E] },
  { name: 'im2latex 31068cb86d (\\hbox{…$…$}, \\label)', md: `$$${IM2LATEX_3106}$$`, math: [IM2LATEX_3106] },
  { name: 'im2latex 31068cb86d written inline', md: `so $${IM2LATEX_3106}$ holds`, math: [IM2LATEX_3106], text: ['so', 'holds'] },
  { name: 'Szeliski (7.1): \\tag in display', md: `$$${SZELISKI_TAG}$$`, math: [SZELISKI_TAG] },

  // Column repetition in array column specs (issue 12, bug 10a), as written and Word's form.
  { name: '(h) array {*{2}{c}}', md: '$$\\begin{array}{*{2}{c}} a & b \\\\ c & d \\end{array}$$', math: ['\\begin{array}{*{2}{c}} a & b \\\\ c & d \\end{array}'], rows: 2 },
  { name: "(h) Word's bare array {*{20}{c}}", md: 'M =\n\n\\begin{array}{*{20}{c}}\n1 & 0 \\\\\n0 & 1\n\\end{array}', math: ['\\begin{array}{*{20}{c}}\n1 & 0 \\\\\n0 & 1\n\\end{array}'], rows: 2 },

  // Source fallback.
  { name: 'missing argument falls back to source', md: 'bad $\\frac{1}$ here', math: [], source: ['$\\frac{1}$'], text: ['bad', 'here'] },
  { name: 'unknown command falls back to source', md: '$$\\foobarbaz{x}$$', math: [], source: ['$$\\foobarbaz{x}$$'] },
  { name: 'unbalanced braces stay text', md: 'set ${x$ and', math: [], text: ['set ${x$ and'] },
];

describe('renderMarkdown: math, currency, code, environments, normalizing, fallback', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const frag = render(c.md);
      assert.equal(frag.querySelectorAll('.katex-error').length, 0, 'no red KaTeX error');
      const formulas = [...frag.querySelectorAll('.math')];
      if (c.math) {
        assert.deepEqual(formulas.map((f) => f.getAttribute('data-latex')), c.math.map((m) => m.trim()));
        for (const f of formulas) assert.ok(f.querySelector('.katex'), 'formula has KaTeX output');
      }
      if (c.display) assert.deepEqual(formulas.map((f) => f.classList.contains('math-display')), c.display);
      if (c.rows !== undefined) assert.equal(formulas[0]?.querySelectorAll('math mtr').length, c.rows);
      const sources = [...frag.querySelectorAll('code.math-source')];
      assert.deepEqual(sources.map((s) => s.textContent), c.source ?? []);
      for (const s of sources) assert.ok(s.getAttribute('title'), 'fallback carries the error as title');
      for (const t of c.text ?? []) assert.ok(plainText(frag).includes(t), `text ${JSON.stringify(t)} in ${JSON.stringify(plainText(frag))}`);
      if (c.code) {
        const code = [...frag.querySelectorAll('code:not(.math-source)')].map((e) => e.textContent);
        assert.deepEqual(code, c.code);
      }
    });
  }

  it('has at least 40 table cases', () => assert.ok(CASES.length >= 40, String(CASES.length)));

  it('never throws on malformed input', () => {
    for (const md of ['$', '$$', '\\(', '\\[', '$\\$', '$$\\begin{aligned}', '\\begin{cases}', '$\\newcommand$', '$\\tag$', '$\\\\[', '}}}{{{$x$']) {
      assert.doesNotThrow(() => renderMarkdown(md, { window: win }), md);
    }
  });
});

// --- Sanitizing -------------------------------------------------------------------------

const DANGEROUS_TAGS = ['script', 'iframe', 'object', 'embed', 'frame', 'frameset', 'form', 'input', 'button', 'textarea', 'style', 'link', 'meta', 'base', 'foreignobject', 'animate', 'set'];

/** Asserts nothing in the fragment can run script, load a remote resource or navigate the app. */
function assertInert(frag: DocumentFragment, label: string): void {
  for (const el of frag.querySelectorAll('*')) {
    const tag = el.localName.toLowerCase();
    assert.ok(!DANGEROUS_TAGS.includes(tag), `${label}: <${tag}> survived`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      assert.ok(!name.startsWith('on'), `${label}: ${name} on <${tag}>`);
      assert.ok(!/^(?:javascript|vbscript|data):/i.test(attr.value.replace(/[\s\u0000-\u001f]/g, '')), `${label}: ${name}=${attr.value}`);
      if (name === 'href' || name === 'data-external-href') assert.match(attr.value, /^(?:https?:|mailto:)/, `${label}: ${name}`);
      if (name === 'src') assert.match(attr.value, /^blob:/, `${label}: src`);
      if (name === 'xlink:href' || name === 'action' || name === 'formaction') assert.fail(`${label}: ${name}`);
      if (name === 'style') {
        assert.ok(!/url\(|expression|position:\s*(?!relative)/i.test(attr.value), `${label}: style ${attr.value}`);
        assert.ok(el.closest('.katex') || tag === 'td' || tag === 'th', `${label}: style outside KaTeX on <${tag}>`);
      }
      assert.ok(!/^data-(?!latex$|external-href$)/.test(name), `${label}: ${name}`);
    }
  }
}

const PAYLOADS = [
  '<img src=x onerror=alert(1)>',
  '<script>alert(1)</script>',
  '[x](javascript:alert(1))',
  '[x](JaVaScRiPt:alert(1))',
  '$\\href{javascript:alert(1)}{x}$',
  '$\\url{javascript:alert(1)}$',
  '$\\htmlData{foo=bar}{x}$',
  '$\\htmlStyle{position:fixed}{x}$',
  '$\\includegraphics{https://evil.example/x.png}$',
  '<a href="data:text/html,<script>alert(1)</script>">x</a>',
  '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<svg onload=alert(1)><circle r=5 /></svg>',
  '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
  '<iframe src="https://evil.example"></iframe>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">x</button></form>',
  '<div style="position:fixed;top:0;left:0;width:100%;height:100%">overlay</div>',
  '<span class="katex"><span style="position:fixed;background:url(https://evil.example/t)">x</span></span>',
  '<style>body{display:none}</style>',
  '<object data="https://evil.example/x.swf"></object><embed src="x">',
  '<details open ontoggle=alert(1)><summary>s</summary></details>',
  '<a href="https://evil.example" data-external-href="javascript:alert(1)" target="_top">x</a>',
  '![x](https://evil.example/track.png)',
  '<img src="https://evil.example/p.png">',
  '<a href="https://user:pw@evil.example/">x</a>',
  '<p data-foo="1" id="clobber" name="x">p</p>',
  '<meta http-equiv="refresh" content="0;url=https://evil.example">',
];

describe('sanitize: model output cannot run script or leave the app', () => {
  for (const payload of PAYLOADS) {
    it(`inert: ${payload}`, () => {
      assertInert(parse(sanitize(payload, win)), 'sanitize');
      assertInert(render(payload), 'renderMarkdown');
      assertInert(render(`text\n\n${payload}\n\nmore $x$`), 'renderMarkdown in context');
    });
  }

  it('specific outcomes', () => {
    assert.equal(render('<script>alert(1)</script>').querySelectorAll('script').length, 0);
    assert.equal(render('<img src=x onerror=alert(1)>').querySelector('img')?.hasAttribute('onerror'), false);
    assert.equal(render('[x](javascript:alert(1))').querySelector('a'), null, 'markdown-it refuses the link');
    assert.equal(render('$\\href{javascript:alert(1)}{x}$').querySelector('a'), null, 'KaTeX without trust draws no link');
    assert.equal(render('$\\htmlData{foo=bar}{x}$').querySelector('[data-foo]'), null);
    assert.equal(render('<a href="data:text/html,x">x</a>').querySelector('a')?.hasAttribute('href'), false);
    assert.equal(render('<iframe src="https://evil.example"></iframe>').querySelector('iframe'), null);
    assert.equal(render('<svg onload=alert(1)></svg>').querySelector('svg')?.hasAttribute('onload') ?? false, false);
    assert.equal(render('<math><mi href="https://evil.example">x</mi></math>').querySelector('[href]'), null, 'href only on links');
    assert.equal(render('![pasted](blob:https://app.local/1)').querySelector('img')?.getAttribute('src'), 'blob:https://app.local/1');
    const tracked = render('![pixel](https://evil.example/t.png)');
    assert.equal(tracked.querySelector('img'), null, 'remote images are not loaded');
    assert.equal(tracked.querySelector('a')?.getAttribute('data-external-href'), 'https://evil.example/t.png');
  });

  it('links get rel and a checked data-external-href', () => {
    const a = render('[site](https://example.com/a?b=1)').querySelector('a')!;
    assert.equal(a.getAttribute('href'), 'https://example.com/a?b=1');
    assert.equal(a.getAttribute('data-external-href'), 'https://example.com/a?b=1');
    assert.equal(a.getAttribute('rel'), 'noopener noreferrer');
    assert.equal(render('<a href="relative/page">x</a>').querySelector('a')?.hasAttribute('href'), false);
  });

  it('keeps KaTeX output: MathML, SVG and its styles', () => {
    const frag = render('$$\\sqrt{x^2+1} \\xrightarrow{f} \\color{red}{y}$$');
    assert.ok(frag.querySelector('math semantics annotation[encoding="application/x-tex"]'));
    const svg = frag.querySelector('svg');
    assert.ok(svg?.getAttribute('viewBox'), 'svg keeps its viewBox');
    assert.ok(frag.querySelector('svg path')?.getAttribute('d'));
    assert.ok(frag.querySelectorAll('.katex [style]').length > 5, 'KaTeX layout styles kept');
    assert.ok([...frag.querySelectorAll('.katex [style]')].some((e) => /color:\s*red/.test(e.getAttribute('style') ?? '')));
  });

  it('drops svg written by the model, with its content, and keeps KaTeX\'s', () => {
    for (const payload of [
      '<svg width="5000" height="5000"></svg>',
      'a <svg></svg> b',
      '<svg viewBox="0 0 10 10"><path d="M0 0L10 10"/><line x1="0" y1="0" x2="9" y2="9"/></svg>',
      '<span class="katex"><span class="katex-html"><span class="svg-align"><svg width="5000" height="5000"><path d="M0 0"/></svg></span></span></span>',
      '<svg data-katex-svg="x" width="5000"></svg>',
      '<div>\n<svg width="5000" height="5000">\n</svg>\n</div>',
    ]) {
      for (const frag of [render(payload), parse(sanitize(payload, win)), render(`$x$ ${payload} $y$`)]) {
        assert.equal(frag.querySelectorAll('svg, path, line').length, 0, payload);
      }
    }
    assert.equal(render('$x$ <svg width="5000"></svg> $y$').querySelectorAll('.katex').length, 2);
    for (const latex of ['\\sqrt{x}', '\\overrightarrow{AB}']) {
      const frag = render(`Inline $${latex}$ and\n\n$$${latex}$$`);
      assert.equal(frag.querySelectorAll('.katex svg').length, 2, latex);
      assert.equal(frag.querySelectorAll('svg').length, 2, latex);
      assert.ok(frag.querySelector('.katex svg path')?.getAttribute('d'), latex);
      assert.equal(frag.querySelector('[data-katex-svg]'), null, 'the mark does not reach the page');
    }
  });

  it('draws commands KaTeX will not render in a colour readable on both themes', () => {
    const frag = render('$\\href{https://example.com}{x}$');
    const styled = [...frag.querySelectorAll('.katex-html [style*="color"]')].map((e) => e.getAttribute('style') ?? '');
    assert.ok(styled.length > 0, 'the unrendered command is coloured');
    for (const style of styled) {
      assert.doesNotMatch(style, /#cc0000/i);
      assert.ok(style.includes(`color:${KATEX_ERROR_COLOR}`), style);
    }
    // KATEX_ERROR_COLOR is var(--danger, <light value>): check --danger (and the fallback)
    // against each theme's backgrounds.
    const css = readFileSync(new URL('../../../renderer/styles/theme.css', import.meta.url), 'utf8');
    const block = (selector: string): Record<string, string> => {
      const body = css.slice(css.indexOf(`${selector} {`)).split('}')[0]!;
      return Object.fromEntries([...body.matchAll(/(--[\w-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1]!, m[2]!]));
    };
    const luminance = (hex: string): number => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
    };
    const contrast = (a: string, b: string): number => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi! + 0.05) / (lo! + 0.05);
    };
    const light = block(':root');
    const dark = { ...light, ...block(":root[data-theme='dark']") };
    const fallback = /#[0-9a-f]{6}/i.exec(KATEX_ERROR_COLOR)![0];
    assert.match(KATEX_ERROR_COLOR, /^var\(--danger\b/);
    for (const [name, theme] of [['light', light], ['dark', dark]] as const) {
      for (const bg of ['--bg', '--bg-elev', '--user-bubble', '--code-bg']) {
        assert.ok(contrast(theme['--danger']!, theme[bg]!) >= 4.5, `${name} --danger on ${bg}: ${contrast(theme['--danger']!, theme[bg]!).toFixed(2)}`);
      }
    }
    assert.ok(contrast(fallback, '#ffffff') >= 4.5, 'fallback on the export\'s white page');
    assert.ok(contrast('#cc0000', dark['--bg']!) < 4.5, 'KaTeX\'s default would fail on dark');
  });

  it('passes KaTeX\'s HTML through unchanged', () => {
    const tidy = (html: string): string => {
      const div = window.document.createElement('div');
      div.innerHTML = html;
      // Only the serialization of style attributes may differ (no trailing semicolon).
      return div.innerHTML.replace(/;"/g, '"').replace(/: /g, ':');
    };
    const corpus = String.raw`\sqrt[3]{\frac{a}{b}} \overrightarrow{AB} \underbrace{a+b}_{c} \xrightarrow{abc} \left(\frac12\right) \colorbox{blue}{x} \fcolorbox{red}{blue}{x} \rule{1em}{2em} \boxed{x} \cancel{x} \not= \begin{pmatrix}1&2\\3&4\end{pmatrix} \raisebox{1em}{x} \int_0^1 \tag{1} \phase{x} \begin{array}{|c|}\hline{}a\\\hline\end{array}`;
    for (const latex of corpus.split(' ')) {
      const html = katex.renderToString(latex, { displayMode: true, output: 'html', strict: 'ignore' });
      assert.equal(tidy(sanitize(markKatexSvg(html), win)), tidy(html), latex);
      // Unmarked (not from renderFormula), KaTeX's svg is not told from the model's and goes.
      if (html.includes('<svg')) assert.doesNotMatch(sanitize(html, win), /<svg/, latex);
    }
  });

  it('keeps table cell alignment and safe HTML', () => {
    const frag = render('| a | b |\n|--:|:-:|\n| 1 | 2 |\n\nH<sub>2</sub>O<br>x <details><summary>s</summary>d</details>');
    assert.match(frag.querySelector('th')?.getAttribute('style') ?? '', /text-align:right/);
    assert.ok(frag.querySelector('sub') && frag.querySelector('br') && frag.querySelector('details summary'));
  });

  it('an unclosed tag in one block does not swallow the next', () => {
    const frag = render('<div>\n\nfirst\n\nsecond $x$');
    assert.ok(frag.querySelector('.math'), 'formula after the stray <div> is still rendered');
  });

  it('checkExternalHref', () => {
    assert.equal(checkExternalHref('https://example.com'), 'https://example.com/');
    assert.equal(checkExternalHref('mailto:a@b.c'), 'mailto:a@b.c');
    for (const bad of ['javascript:alert(1)', 'data:text/html,x', 'file:///etc/passwd', 'blob:https://x/1', 'relative', 'https://u:p@x.com', 'ftp://x.com']) {
      assert.equal(checkExternalHref(bad), null, bad);
    }
  });
});

// --- Streaming --------------------------------------------------------------------------

const LONG_ANSWER = [
  '# Results',
  '',
  'First we define $\\newcommand{\\E}{\\mathbb{E}}\\E[X]$ and note it costs $5 or $50.',
  '',
  '1. one $a^2$',
  '2. two',
  '',
  '3. three after a blank line',
  '',
  '```python',
  'x = "$y$"',
  '',
  'print(x)',
  '```',
  '',
  '$$',
  '\\begin{aligned}',
  'f(x) &= \\E[x] \\\\',
  '',
  'g(x) &= 2',
  '\\end{aligned}',
  '$$',
  '',
  '| col | $m$ |',
  '|-----|-----|',
  '| 1   | $\\E$ |',
  '',
  'Title',
  '-----',
  '',
  '> quote with \\(q\\)',
  '> and more',
  '',
  '\\begin{cases}a & b\\\\c & d\\end{cases}',
  'A paragraph that ends without a newline and uses $\\E$ again',
].join('\n');

/** Splits text into token-like chunks of 1–7 characters, deterministically. */
function chunks(text: string): string[] {
  const out: string[] = [];
  let seed = 7;
  for (let i = 0; i < text.length; ) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const n = 1 + (seed % 7);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}

describe('StreamingRenderer', () => {
  it('renders finished blocks once and matches renderMarkdown at every step', () => {
    const streaming = new StreamingRenderer({ window: win });
    let text = '';
    let previousStable: readonly string[] = [];
    let previousRenders = 0;
    for (const chunk of chunks(LONG_ANSWER)) {
      text += chunk;
      const snapshot = streaming.update(text);
      // Finished blocks never change once there.
      assert.deepEqual(snapshot.stableHtml.slice(0, previousStable.length), previousStable);
      // Each update renders only the unfinished tail (at most two blocks) plus blocks
      // that finished in this update and were not rendered identically as the tail.
      const newlyFinished = snapshot.stableHtml.length - previousStable.length;
      assert.ok(streaming.renders - previousRenders <= 2 + newlyFinished, `renders ${streaming.renders - previousRenders}`);
      assert.equal(snapshot.stableHtml.join('') + snapshot.tailHtml, renderMarkdown(text, { window: win }), `prefix ${JSON.stringify(text.slice(-30))}`);
      previousStable = [...snapshot.stableHtml];
      previousRenders = streaming.renders;
    }
    // All but the last two blocks: the last starts on the line still being written.
    assert.equal(previousStable.length, 8);
    assert.equal(streaming.finish(), renderMarkdown(LONG_ANSWER, { window: win }));
  });

  it('a token in the tail re-renders only the tail block', () => {
    const streaming = new StreamingRenderer({ window: win });
    const head = 'para $x$\n\n$$y$$\n\n- list\n\nlast line\nmore';
    const first = streaming.update(head);
    assert.equal(first.stableHtml.length, 3);
    const before = streaming.renders;
    streaming.update(head + ' word');
    assert.equal(streaming.renders - before, 1);
    streaming.update(head + ' word');
    assert.equal(streaming.renders - before, 1, 'the same text again renders nothing');
    streaming.finish();
    const more = `${head} word\n\nafter $z$`;
    assert.equal(streaming.update(more).stableHtml.join('') + streaming.update(more).tailHtml, renderMarkdown(more, { window: win }), 'text after finish() starts over');
  });

  it('keeps a target element in step, leaving finished blocks\' nodes in place', () => {
    const target = window.document.createElement('div');
    const streaming = new StreamingRenderer({ window: win, target });
    let text = '';
    let firstNode: Node | null = null;
    for (const chunk of chunks(LONG_ANSWER)) {
      text += chunk;
      const snapshot = streaming.update(text);
      const expected = window.document.createElement('div');
      expected.innerHTML = snapshot.stableHtml.join('') + snapshot.tailHtml;
      assert.equal(target.innerHTML, expected.innerHTML);
      if (snapshot.stableHtml.length > 0) {
        firstNode ??= target.firstChild;
        assert.equal(target.firstChild, firstNode, 'the first finished block is never replaced');
      }
    }
    streaming.finish();
    const whole = window.document.createElement('div');
    whole.innerHTML = renderMarkdown(LONG_ANSWER, { window: win });
    assert.equal(target.innerHTML, whole.innerHTML);
  });

  it('starts over when the text is replaced, and follows late link definitions', () => {
    const streaming = new StreamingRenderer({ window: win });
    streaming.update('one $a$\n\ntwo\n\nthree');
    assert.equal(streaming.update('other\n\ntext').stableHtml.join('') + streaming.update('other\n\ntext').tailHtml, renderMarkdown('other\n\ntext', { window: win }));
    const refs = new StreamingRenderer({ window: win });
    const doc = 'see [the site][s]\n\nmore\n\n[s]: https://example.com\n\nend';
    let text = '';
    for (const ch of doc) {
      text += ch;
      const s = refs.update(text);
      assert.equal(s.stableHtml.join('') + s.tailHtml, renderMarkdown(text, { window: win }));
    }
    assert.equal(refs.finish(), renderMarkdown(doc, { window: win }));
  });
});
