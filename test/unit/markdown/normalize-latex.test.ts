// The LaTeX normalizing pass, kind by kind: the exact rewrite, the kind reported, and that
// KaTeX (throwOnError on) accepts the result.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import katex from 'katex';
import { MAX_COLUMNS, expandColumnSpec, normalizeLatex, type NormalizeKind } from '../../../renderer/lib/markdown/index.js';

function katexAccepts(latex: string, displayMode: boolean, macros: Record<string, string> = {}): void {
  katex.renderToString(latex, { displayMode, throwOnError: true, strict: 'ignore', trust: false, macros: { ...macros }, globalGroup: true });
}

interface Case {
  input: string;
  display?: boolean;
  out: string;
  kind: NormalizeKind | null;
  /** Display mode after the pass, when it differs from the input's. */
  promoted?: boolean;
  macros?: Record<string, string>;
}

const CASES: Case[] = [
  // (a) layout-only commands
  { input: '\\label{eq:1} a+b', out: 'a+b', kind: 'no-op-command' },
  { input: 'a\\hfill b', display: true, out: 'a b', kind: 'no-op-command' },
  { input: 'a\\vspace*{2mm}+c\\medskip', display: true, out: 'a+c', kind: 'no-op-command' },
  { input: '\\alpha\\label{x}b', out: '\\alpha b', kind: 'no-op-command' },
  { input: '\\noindent\\centering x', display: true, out: 'x', kind: 'no-op-command' },
  // package commands with a KaTeX equivalent
  { input: '\\mathbbm{1}_A', out: '\\mathbb{1}_A', kind: 'package-command' },
  { input: 'a,\\hdots,z', out: 'a,\\ldots,z', kind: 'package-command' },
  { input: 'x^{\\textsuperscript{th}}', out: 'x^{^{\\text{th}}}', kind: 'package-command' },
  // (b) text boxes
  { input: 'x\\mbox{and}y', out: 'x\\text{and}y', kind: 'text-box' },
  { input: '\\hbox to 3em{x}', out: '\\text{x}', kind: 'text-box' },
  { input: '\\makebox[2cm][l]{x}', out: '\\text{x}', kind: 'text-box' },
  { input: '\\textsc{Id}+\\textsl{a}', out: '\\text{Id}+\\textit{a}', kind: 'text-box' },
  { input: '\\mbox{for $r\\label{x}>0$}', out: '\\text{for $r>0$}', kind: 'text-box' },
  { input: '\\text{for \\(r\\)}', out: '\\text{for $r$}', kind: 'text-box' },
  { input: '\\text{a \\ensuremath{x} b}', out: '\\text{a $x$ b}', kind: 'text-box' },
  { input: '\\mathbf{\\mbox{v}}', out: '\\mathbf{\\text{v}}', kind: 'text-box' },
  // (c) display-only environments
  { input: '\\begin{align}a&=b\\\\c&=d\\end{align}', out: '\\begin{align}a&=b\\\\c&=d\\end{align}', kind: 'promoted-to-display', promoted: true },
  { input: '\\begin{equation*}E=mc^2\\end{equation*}\\label{e}', out: '\\begin{equation*}E=mc^2\\end{equation*}', kind: 'promoted-to-display', promoted: true },
  { input: 'x=\\begin{align*}a&=b\\end{align*}', out: 'x=\\begin{aligned}a&=b\\end{aligned}', kind: 'display-env' },
  { input: 'x=\\begin{equation}a\\end{equation}', out: 'x={a}', kind: 'display-env' },
  { input: 'x=\\begin{equation}a\\\\b\\end{equation}', out: 'x=\\begin{gathered}a\\\\b\\end{gathered}', kind: 'display-env' },
  { input: 'y\\begin{alignat}{2}a&=b&c\\end{alignat}', out: 'y\\begin{alignedat}{2}a&=b&c\\end{alignedat}', kind: 'display-env' },
  { input: 'y\\begin{split}a&=b\\end{split}', out: 'y\\begin{aligned}a&=b\\end{aligned}', kind: 'display-env' },
  { input: '\\begin{eqnarray}a&=&b\\end{eqnarray}', display: true, out: '\\begin{array}{rcl}a&=&b\\end{array}', kind: 'display-env' },
  { input: '\\begin{multline*}a\\\\b\\end{multline*}', display: true, out: '\\begin{gathered}a\\\\b\\end{gathered}', kind: 'display-env' },
  // (d) \tag
  { input: 'a=b\\tag{1}', out: 'a=b', kind: 'tag' },
  { input: 'a\\tag*{1}\\tag{2}', display: true, out: 'a\\tag*{1}', kind: 'tag' },
  { input: '\\begin{align}a\\tag{1}\\\\b\\tag{2}\\end{align}', display: true, out: '\\begin{align}a\\tag{1}\\\\b\\tag{2}\\end{align}', kind: null },
  // (e) macro definitions
  { input: '\\newcommand{\\R}{\\mathbb{R}}x\\in\\R', out: '\\renewcommand{\\R}{\\mathbb{R}}x\\in\\R', kind: 'macro-definition' },
  { input: '\\newcommand*{\\sq}[1]{#1^2}\\sq{x}', out: '\\newcommand{\\sq}[1]{#1^2}\\sq{x}', kind: 'macro-definition' },
  { input: '\\renewcommand{\\foo}{x}\\foo', out: '\\newcommand{\\foo}{x}\\foo', kind: 'macro-definition' },
  { input: '\\providecommand{\\R}{x}\\R', out: '\\R', kind: 'macro-definition' },
  { input: '\\DeclareMathOperator{\\Tr}{Tr}\\Tr A', out: '\\newcommand{\\Tr}{\\operatorname{Tr}}\\Tr A', kind: 'macro-definition' },
  { input: '\\newcommand{\\myv}{\\mathbf{w}}\\myv', out: '\\renewcommand{\\myv}{\\mathbf{w}}\\myv', kind: 'macro-definition', macros: { '\\myv': '\\mathbf{v}' } },
  { input: '\\def\\foo{x}\\foo', out: '\\def\\foo{x}\\foo', kind: null },
  // (f) whitespace and row spacing
  { input: 'a\u00a0b\tc\r\nd\u200b', out: 'a b c\nd', kind: 'whitespace' },
  { input: 'a\\\\[4mm]b', display: true, out: 'a\\\\[4mm]b', kind: null },
  { input: '\\begin{aligned}x&=1\\\\[a,b]&=2\\end{aligned}', out: '\\begin{aligned}x&=1\\\\{}[a,b]&=2\\end{aligned}', kind: 'row-spacing' },
  { input: 'a\\\\*b', display: true, out: 'a\\\\b', kind: 'row-spacing' },
  // (g) glued command names
  { input: 'R_g\\ltq^{-1}\\ltl_0', out: 'R_g\\lt q^{-1}\\lt l_0', kind: 'glued-command' },
  { input: '\\alphax+\\inR', out: '\\alpha x+\\in R', kind: 'glued-command' },
  // (h) column repetition in array column specs (issue 12, bug 10a)
  { input: '\\begin{array}{*{2}{c}}a&b\\\\c&d\\end{array}', display: true, out: '\\begin{array}{cc}a&b\\\\c&d\\end{array}', kind: 'column-spec' },
  { input: '\\left[\\begin{array}{*{20}{c}}1&0\\end{array}\\right]', out: `\\left[\\begin{array}{${'c'.repeat(20)}}1&0\\end{array}\\right]`, kind: 'column-spec' },
  { input: '\\begin{array}{|*{2}{*{2}{c}|}}1&2&3&4\\end{array}', out: '\\begin{array}{|cc|cc|}1&2&3&4\\end{array}', kind: 'column-spec' },
  { input: '\\begin{array}{l*3r}a&b&c&d\\end{array}', out: '\\begin{array}{lrrr}a&b&c&d\\end{array}', kind: 'column-spec' },
  { input: '\\begin{darray}{*{2}{c}}a&b\\end{darray}', display: true, out: '\\begin{darray}{cc}a&b\\end{darray}', kind: 'column-spec' },
  // untouched
  { input: '\\frac{a}{b}+\\sqrt{x}', out: '\\frac{a}{b}+\\sqrt{x}', kind: null },
];

describe('expandColumnSpec: bounds', () => {
  it('expands up to MAX_COLUMNS columns, nested or not, and leaves the rest as written', () => {
    assert.equal(MAX_COLUMNS, 100);
    assert.equal(expandColumnSpec('*{100}{c}'), 'c'.repeat(100));
    assert.equal(expandColumnSpec('*{10}{*{10}{c}}'), 'c'.repeat(100));
    assert.equal(expandColumnSpec('*{0}{c}r'), 'r');
    assert.equal(expandColumnSpec('*{3}{|}c'), '|||c', 'rules are no columns');
    // Over the bound or malformed: left as written (KaTeX then shows the source).
    for (const spec of ['*{101}{c}', '*{50}{*{50}{c}}', '*{99}{cc}', '*{1000}{c}', '*{x}{c}', '*{2}', '*{2}{c', 'cc']) {
      assert.equal(expandColumnSpec(spec), null, spec);
      const latex = `\\begin{array}{${spec}}a\\end{array}`;
      assert.equal(normalizeLatex(latex, { displayMode: true }).latex, latex, spec);
    }
    // A deep nest whose every level is small still ends in the bound, not in a long string.
    assert.equal(expandColumnSpec('*{9}{*{9}{*{9}{*{9}{c}}}}'), null);
    // Only column specifications: a * in a matrix is multiplication.
    assert.equal(normalizeLatex('\\begin{pmatrix}a*{2}{c}\\end{pmatrix}', { displayMode: true }).latex, '\\begin{pmatrix}a*{2}{c}\\end{pmatrix}');
  });
});

describe('normalizeLatex', () => {
  for (const c of CASES) {
    it(`${c.kind ?? 'unchanged'}: ${JSON.stringify(c.input)}`, () => {
      const display = c.display ?? false;
      const result = normalizeLatex(c.input, { displayMode: display, macros: c.macros ?? {} });
      assert.equal(result.latex, c.out);
      if (c.kind) assert.ok(result.kinds.includes(c.kind), `kinds ${result.kinds.join(',')}`);
      else assert.deepEqual(result.kinds, []);
      assert.equal(result.displayMode, c.promoted ?? display);
      assert.doesNotThrow(() => katexAccepts(result.latex, result.displayMode, c.macros));
    });
  }

  it('is idempotent', () => {
    for (const c of CASES) {
      const once = normalizeLatex(c.input, { displayMode: c.display ?? false, macros: c.macros ?? {} });
      const twice = normalizeLatex(once.latex, { displayMode: once.displayMode, macros: c.macros ?? {} });
      if (!once.kinds.includes('macro-definition')) assert.equal(twice.latex, once.latex, c.input);
    }
  });
});

// testdata/real/SOURCES.md: ground truths KaTeX 0.19.1 rejects as written.
const GROUND_TRUTH: Array<{ file: string; latex: string; display: boolean }> = [
  { file: 'im2latex_de8a312222.png', display: true, latex: String.raw`\rho^0 = \left( \begin{array}{cc} 0 & -i \\ i & 0\end{array}\right)\,\,\, \mbox{and}\,\,\, \rho^1 = \left( \begin{array}{cc} 0 & i \\ i & 0\end{array}\right) .` },
  { file: 'im2latex_632e971eb8.png', display: true, latex: '\\left\\{\\begin{array}{c}\t\\partial_{\\tau}R+\\vec\\nabla\\cdot\t\\left(\\vec\\nabla\\Theta\\,\\sqrt{\\displaystyle\\frac{R^2+a^2}\t{1+(\\vec\\nabla\\Theta)^2}}\\right)=0,\\hfill\\\\[4mm]\t\\partial_{\\tau}\\Theta+R\\sqrt{\t\\displaystyle\\frac{1+(\\vec\\nabla\\Theta)^2}\t{R^2+a^2}}=0.\\hfill\\\\     \\end{array}\\right.     \\label{JPeqmot}' },
  { file: 'im2latex_31068cb86d.png', display: true, latex: String.raw`g^>_n(r,r')=E_n K_{|n/\alpha|}(\beta r), \quad \hbox{for $r>r^{'}$.}\label{22}` },
  { file: 'crohme2013_116_em_177.png', display: false, latex: String.raw`R_g\ltq^{-1}\ltl_0` },
  { file: 'pix2text_en1_book_excerpt.jpg', display: true, latex: String.raw`E_{\mathrm{WSSD}}(\mathbf{u})=\sum_i w(\mathbf{x}_i)[I_1(\mathbf{x}_i+\mathbf{u})-I_0(\mathbf{x}_i)]^2, \tag{7.1}` },
];

describe('normalizeLatex on real ground truth', () => {
  for (const g of GROUND_TRUTH) {
    it(g.file, () => {
      const result = normalizeLatex(g.latex, { displayMode: g.display });
      assert.doesNotThrow(() => katexAccepts(result.latex, result.displayMode));
      assert.ok(!/\\label|\\hfill|\\mbox|\t/.test(result.latex), result.latex);
    });
  }

  it('rejections are real without the pass', () => {
    for (const g of GROUND_TRUTH.slice(0, 4)) assert.throws(() => katexAccepts(g.latex, g.display), g.file);
  });
});
