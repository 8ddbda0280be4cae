#!/usr/bin/env python3
"""Lines of logic per source file (not blank, not comments, no `#[cfg(test)]` blocks;
tests, benches and node_modules aside), longest first. Usage:
  scripts/logic-lines.py [ROOT] [--top N] [--max LINES]
With --max, exits 1 naming every file over LINES (the rule: no file over 600)."""
import importlib.util, os, sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('import_graph', os.path.join(here, 'import-graph.py'))
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)

def logic_lines(path):
    text = open(path, encoding='utf-8').read()
    if path.endswith('.rs'):
        text = import_graph.strip_tests(text)
    return sum(1 for line in text.split('\n')
               if line.strip() and not line.strip().startswith(('//', '*', '/*')))

def main(argv):
    args = [a for a in argv if not a.startswith('--')]
    root = args[0] if args and not argv[argv.index(args[0]) - 1].startswith('--') else os.path.dirname(here)
    opt = lambda name, default: int(argv[argv.index(name) + 1]) if name in argv else default
    top, most = opt('--top', 10), opt('--max', None)
    rows = []
    for d in ('crates', 'src-tauri/src', 'ui'):
        for dirpath, dirs, files in os.walk(os.path.join(root, d)):
            dirs[:] = [x for x in dirs if x not in ('tests', 'benches', 'node_modules', 'target')]
            for f in files:
                if f.endswith(('.rs', '.js')):
                    p = os.path.join(dirpath, f)
                    rows.append((logic_lines(p), os.path.relpath(p, root)))
    rows.sort(reverse=True)
    for n, p in rows[:top]:
        print(f"{n:5d}  {p}")
    over = [(n, p) for n, p in rows if most is not None and n > most]
    for n, p in over:
        print(f"over {most} lines of logic: {p} ({n}): split it by idea (ARCHITECTURE.md)")
    return 1 if over else 0

if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
