// Issue 12, bug 10c: `\newcommand` and its kin hold for the conversation on screen. An answer's
// formulas use the macros earlier answers defined, in order; a later definition wins from there
// on; what a later answer defines does not reach back. Outputs are parsed with jsdom and queried.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JSDOM } from 'jsdom';
import {
  StreamingRenderer,
  conversationMacros,
  macrosAfter,
  renderMarkdown,
  type KatexMacros,
  type WindowLike,
} from '../../../renderer/lib/markdown/index.js';

const { window } = new JSDOM('');
const win = window as unknown as WindowLike;

function parse(html: string): DocumentFragment {
  const template = window.document.createElement('template');
  template.innerHTML = html;
  return template.content;
}

/** Each message rendered as ConversationView does: answers with the macros before them, user text as null. */
function renderConversation(messages: readonly (string | null)[]): (DocumentFragment | null)[] {
  const starts = conversationMacros(messages);
  return messages.map((m, i) => (m === null ? null : parse(renderMarkdown(m, { window: win, macros: starts[i]! }))));
}

/** The MathML identifiers of the rendered formulas, with their mathvariant: "x:bold". */
function identifiers(frag: DocumentFragment): string[] {
  return [...frag.querySelectorAll('.katex-mathml mi')].map((mi) => `${mi.textContent}:${mi.getAttribute('mathvariant') ?? ''}`);
}

const sources = (frag: DocumentFragment): string[] => [...frag.querySelectorAll('code.math-source')].map((c) => c.textContent ?? '');

describe('conversationMacros: macros defined in earlier answers apply to later ones', () => {
  it('a \\newcommand of the first answer renders in a later answer, past a user message', () => {
    const [first, , third] = renderConversation([
      'Write vectors as $\\newcommand{\\vect}[1]{\\mathbf{#1}}\\vect{u}$.',
      null,
      'Then $\\vect{v} + w$ is a sum.',
    ]);
    assert.deepEqual(identifiers(first!), ['u:bold']);
    assert.deepEqual(sources(third!), [], 'no formula shown as source');
    assert.deepEqual(identifiers(third!), ['v:bold', 'w:']);
  });

  it('in order: a redefinition wins from its answer on, and nothing reaches back', () => {
    const frags = renderConversation([
      'Early use: $\\later x$.',
      'Define $\\newcommand{\\later}{\\mathbf{a}}\\later$ and $\\newcommand{\\op}{\\mathbf{p}}\\op$.',
      'Use $\\later + \\op$.',
      // \newcommand of a name already defined: the normalizing pass makes it \renewcommand.
      'Redefine $\\newcommand{\\op}{\\mathsf{q}}\\op$.',
      'Use again $\\later + \\op$.',
    ]);
    assert.deepEqual(sources(frags[0]!), ['$\\later x$'], 'a macro of a later answer does not apply before it');
    assert.deepEqual(identifiers(frags[2]!), ['a:bold', 'p:bold']);
    assert.deepEqual(identifiers(frags[3]!), ['q:sans-serif']);
    assert.deepEqual(identifiers(frags[4]!), ['a:bold', 'q:sans-serif']);
  });

  it('\\def, \\DeclareMathOperator and a macro whose body defines another', () => {
    const frags = renderConversation([
      '$$\\def\\half{\\frac{1}{2}}\\DeclareMathOperator{\\Tr}{Tr}\\newcommand{\\mk}{\\gdef\\zed{\\mathbf{z}}}$$',
      // \mk is called here without any defining command in this answer's text: it defines \zed.
      'Call $\\mk x$.',
      'Now $\\Tr \\half + \\zed$.',
    ]);
    assert.deepEqual(sources(frags[2]!), []);
    const mathml = frags[2]!.querySelector('.katex-mathml')!;
    assert.ok(mathml.querySelector('mfrac'), '\\half is a fraction');
    assert.match(mathml.textContent ?? '', /Tr/);
    assert.ok(identifiers(frags[2]!).includes('z:bold'), identifiers(frags[2]!).join(' '));
  });

  it('a streamed answer starts with the same macros and ends as the whole render does', () => {
    const messages = ['$\\newcommand{\\vect}[1]{\\mathbf{#1}}$', 'Streaming $\\vect{s}$\n\nand more $\\vect{t}$'];
    const starts = conversationMacros(messages);
    const streaming = new StreamingRenderer({ window: win, macros: starts[1]! });
    const text = messages[1]!;
    for (let n = 1; n <= text.length; n += 7) streaming.update(text.slice(0, n));
    streaming.update(text);
    const whole = renderMarkdown(text, { window: win, macros: starts[1]! });
    assert.equal(streaming.finish(), whole);
    assert.deepEqual(identifiers(parse(whole)), ['s:bold', 't:bold']);
  });
});

describe('conversationMacros: cost and identity', () => {
  it('the same object while earlier answers are unchanged; the first answer starts with none', () => {
    const answers = ['$\\newcommand{\\aa}{A}$', null, 'plain text', 'streaming…'];
    const a = conversationMacros(answers);
    const b = conversationMacros([...answers.slice(0, 3), 'streaming… more tokens']);
    assert.equal(a.length, 4);
    assert.deepEqual(Object.keys(a[0]!), []);
    assert.deepEqual(Object.keys(a[1]!), ['\\aa']);
    for (let i = 0; i < 4; i++) assert.equal(a[i], b[i], `start of message ${i}`);
    assert.equal(a[2], a[3], 'a user message and an answer without definitions change nothing');
  });

  it('macrosAfter leaves its input alone and returns it when nothing is defined', () => {
    const before: KatexMacros = { '\\foo': 'x' };
    assert.equal(macrosAfter('no math, and $x+1$ defines nothing', before), before);
    const after = macrosAfter('$\\newcommand{\\bar}{y}\\renewcommand{\\foo}{z}$', before);
    assert.notEqual(after, before);
    assert.deepEqual(before, { '\\foo': 'x' });
    assert.deepEqual(Object.keys(after).sort(), ['\\bar', '\\foo']);
  });

  it('definitions in code, and formulas KaTeX rejects, define what the whole render defines', () => {
    // In a code span there is no formula; a formula that fails after its \newcommand keeps it (KaTeX's global group).
    const frags = renderConversation(['`$\\newcommand{\\zzcode}{c}$` and $\\newcommand{\\kept}{k}\\frac{1}$', '$\\kept$ and $\\zzcode$']);
    assert.deepEqual(sources(frags[0]!), ['$\\newcommand{\\kept}{k}\\frac{1}$']);
    assert.deepEqual(sources(frags[1]!), ['$\\zzcode$']);
    assert.deepEqual(identifiers(frags[1]!), ['k:']);
  });
});
