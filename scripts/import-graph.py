#!/usr/bin/env python3
"""The import graph of a crate's modules, from its `use crate::...` / `super::` lines and
paths written in code (`crate::a::b`), and the circles in it (strongly connected groups of
more than one module). Usage:
  scripts/import-graph.py CRATE_SRC_DIR [--edges] [--layers "a b | c | d e"]
With --layers (top-level modules, lowest first, `|` between layers), a module that names a
top-level module of its own or a higher layer (other than its own subtree) is reported too.
Exits 1 when there is a circle or a layer broken.

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`); an edge a -> b means a names b
or something inside it. Children naming their parent (`super::`) are not circles of
layering, but a parent naming a child that names it back is, and is reported as such."""
import os, re, sys
from collections import defaultdict

def modules(src):
    mods = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith('.rs'):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] in ('mod', 'lib', 'main'):
                rel = rel[:-1]
            mods['::'.join(rel)] = path
    return mods

def strip_tests(text):
    # Drop `#[cfg(test)] mod tests { ... }` blocks: tests may name anything.
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{', text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {'{': 1, '}': -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return ''.join(out)

def resolve(name, mods):
    parts = name.split('::')
    while parts:
        cand = '::'.join(parts)
        if cand in mods:
            return cand
        parts = parts[:-1]
    return None

def edges(mods):
    g = defaultdict(set)
    for mod, path in mods.items():
        text = strip_tests(open(path).read())
        text = re.sub(r'//[^\n]*', '', text)
        here = mod.split('::') if mod else []
        names = set()
        for m in re.finditer(r'\bcrate::((?:\w+::)*\w+)', text):
            names.add(m.group(1))
        for m in re.finditer(r'\b((?:super::)+)((?:\w+::)*\w+)', text):
            up = m.group(1).count('super::')
            base = here[:len(here) - up] if up <= len(here) else []
            names.add('::'.join(base + m.group(2).split('::')))
        # `use crate::{a, b::c}` groups
        for m in re.finditer(r'use\s+crate::\{([^;]*)\};', text, re.S):
            for item in re.split(r'[,\s]+', re.sub(r'\{[^}]*\}', '', m.group(1))):
                if item:
                    names.add(item.split('::')[0] if '::' not in item else item)
        for n in names:
            target = resolve(n, mods)
            if target is not None and target != mod and not mod.startswith(target + '::') \
                    and target != '':
                g[mod].add(target)
    return g

def sccs(g, nodes):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            out.append(comp)
    for v in nodes:
        if v not in index:
            visit(v)
    return [sorted(c) for c in out if len(c) > 1]

def layer_breaks(g, spec):
    rank = {}
    for i, layer in enumerate(spec.split('|')):
        for m in layer.split():
            rank[m] = i
    top = lambda m: m.split('::')[0]
    breaks = []
    for a in sorted(g):
        if not a or top(a) not in rank:
            continue
        for b in sorted(g[a]):
            if top(b) == top(a):
                continue
            if top(b) not in rank:
                breaks.append(f"{a} -> {b}: {top(b)} is in no layer")
            elif rank[top(b)] >= rank[top(a)]:
                breaks.append(f"{a} -> {b}: names a module of its own or a higher layer")
    missing = sorted({top(m) for m in g if m and top(m) not in rank})
    breaks += [f"{m}: in no layer (add it to --layers)" for m in missing]
    return breaks

if __name__ == '__main__':
    src = sys.argv[1]
    mods = modules(src)
    g = edges(mods)
    if '--edges' in sys.argv:
        for a in sorted(g):
            print(f"{a or '(crate)'} -> {', '.join(sorted(g[a]))}")
    circles = sccs(g, sorted(mods))
    breaks = layer_breaks(g, sys.argv[sys.argv.index('--layers') + 1]) if '--layers' in sys.argv else []
    print(f"{src}: {len(mods)} modules, {sum(len(v) for v in g.values())} edges, {len(circles)} circle(s)"
          + (f", {len(breaks)} layer break(s)" if '--layers' in sys.argv else ''))
    for c in circles:
        print('  circle: ' + ' <-> '.join(c))
    for b in breaks:
        print('  layer break: ' + b)
    sys.exit(1 if circles or breaks else 0)
