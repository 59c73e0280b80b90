/**
 * Relative links in README.md and docs/*.md: every `[text](path#anchor)` (and `![alt](path)`, and
 * `[label]: path` definitions) must name a file or folder that exists, and an `#anchor` into a Markdown
 * file must match one of its headings as GitHub slugs them. Links with a scheme (https:, mailto:) and
 * anything inside code (fenced blocks, inline code spans) are not checked.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

/** README.md and every Markdown file directly in docs/ (docs/api/, if it ever exists, is generated). */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md') && statSync(join(ROOT, 'docs', name)).isFile())
    .sort()
    .map((name) => join(ROOT, 'docs', name));
  return [join(ROOT, 'README.md'), ...docs];
}

/** The lines of a Markdown text outside fenced code blocks, with their 1-based numbers. */
function proseLines(text: string): Array<{ line: string; n: number }> {
  const out: Array<{ line: string; n: number }> = [];
  let fence: string | undefined;
  text.split('\n').forEach((line, i) => {
    const opener = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== undefined) {
      if (opener && opener[1][0] === fence[0] && opener[1].length >= fence.length && line.trim() === opener[1]) fence = undefined;
      return;
    }
    if (opener) {
      fence = opener[1];
      return;
    }
    out.push({ line, n: i + 1 });
  });
  return out;
}

/** A line with its inline code spans blanked out (a link shown as code is not a link). */
function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)[\s\S]*?\1/g, (span) => ' '.repeat(span.length));
}

/**
 * GitHub's heading anchor (github-slugger): the heading's text, lower-cased, every character that is
 * not a letter, digit, mark, '_', '-' or space dropped, each space turned into '-'.
 */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link's text only
    .replace(/<[^>]+>/g, '') // inline HTML
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats get -1, -2, … as on GitHub) and explicit ids. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const { line } of proseLines(readFileSync(file, 'utf8'))) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = githubSlug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

interface Link {
  file: string;
  n: number;
  target: string;
}

/** The link targets of a file: inline links and images, and reference definitions. */
function linksOf(file: string): Link[] {
  const links: Link[] = [];
  for (const { line, n } of proseLines(readFileSync(file, 'utf8'))) {
    const prose = withoutCodeSpans(line);
    // [text](target) or [text](<target> "title"); the text may hold one level of brackets.
    for (const m of prose.matchAll(/\[(?:[^\][]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) {
      links.push({ file, n, target: m[1].replace(/^<|>$/g, '') });
    }
    const definition = /^\s{0,3}\[[^\]]+\]:\s+(\S+)/.exec(prose);
    if (definition) links.push({ file, n, target: definition[1].replace(/^<|>$/g, '') });
  }
  return links;
}

/** Why a relative link is broken, or undefined when it resolves. */
function problemOf(link: Link, anchorCache: Map<string, Set<string>>): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined; // https:, mailto:, …
  const hash = link.target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? link.target : link.target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  const target = path === '' ? link.file : resolve(dirname(link.file), path);
  if (!existsSync(target)) return `${path} does not exist`;
  if (anchor === undefined || anchor === '' || !target.endsWith('.md')) return undefined;
  let anchors = anchorCache.get(target);
  if (!anchors) anchorCache.set(target, (anchors = anchorsOf(target)));
  if (!anchors.has(anchor)) return `${relative(ROOT, target)} has no heading with the anchor #${anchor}`;
  return undefined;
}

describe('links in README.md and docs/*.md', () => {
  it('GitHub heading slugs, as the docs spell their anchors', () => {
    expect(githubSlug("Share the app's DataSource")).toBe('share-the-apps-datasource');
    expect(githubSlug('Claim priority: measured')).toBe('claim-priority-measured');
    expect(githubSlug('`replay`: resume a run with 1,000 completed steps (target ≤ 300 ms)')).toBe(
      'replay-resume-a-run-with-1000-completed-steps-target--300-ms',
    );
    expect(githubSlug('Batch starts: `startMany`')).toBe('batch-starts-startmany');
    expect(githubSlug('Snake_case and [a link](x.md)')).toBe('snake_case-and-a-link');
  });

  it('finds a broken file and a broken anchor (the check can fail)', () => {
    const cache = new Map<string, Set<string>>();
    const readme = join(ROOT, 'README.md');
    expect(problemOf({ file: readme, n: 1, target: 'docs/no-such-page.md' }, cache)).toMatch(/does not exist/);
    expect(problemOf({ file: readme, n: 1, target: 'docs/concepts.md#no-such-heading' }, cache)).toMatch(/no heading with the anchor/);
    expect(problemOf({ file: readme, n: 1, target: 'docs/concepts.md#leases-and-fencing' }, cache)).toBeUndefined();
    expect(problemOf({ file: readme, n: 1, target: 'https://example.com/missing.md' }, cache)).toBeUndefined();
  });

  it('every relative link points to an existing file and, with #anchor, to an existing heading', () => {
    const cache = new Map<string, Set<string>>();
    const files = documents();
    const links = files.flatMap(linksOf);
    expect(links.length).toBeGreaterThan(50);
    const broken = links
      .map((link) => ({ link, problem: problemOf(link, cache) }))
      .filter((r) => r.problem !== undefined)
      .map(({ link, problem }) => `${relative(ROOT, link.file)}:${link.n}: (${link.target}) ${problem}`);
    expect(broken).toEqual([]);
  });
});
