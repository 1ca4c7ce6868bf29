"""The package's shape (issues 16, 29): what goes where, checked on the source.

- the library never prints, exits or parses command lines;
- no circle in the imports between `keras_vaes` modules, no `keras.src`;
- example scripts stay thin: <= ~150 lines, no `sys.path` tricks, no models.
"""

import ast
import io
import os
import tokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_vaes")
EXAMPLES_DIR = os.path.join(ROOT, "examples")


def package_modules():
    """`{module name: path}` of every module under keras_vaes/."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join(parts)] = path
    return modules


def module_level_imports(path, module, modules):
    """The keras_vaes modules that `module` imports when it is imported (not inside functions)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            elif isinstance(node, (ast.If, ast.Try)):  # still run at import time
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                continue
            else:
                continue
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    found.add(name)

    visit(tree.body)
    return found


def find_cycle(graph):
    """One cycle of `graph` ({node: successors}) as a list, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, stack)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [])
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_circle_and_only_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_circle_in_the_package_imports():
    """A submodule importing its package's `__init__` does not count: Python imports parents first."""
    modules = package_modules()
    graph = {}
    for module, path in modules.items():
        imports = module_level_imports(path, module, modules)
        graph[module] = {name for name in imports if not module.startswith(name + ".")}
    assert len(graph) > 40, sorted(graph)  # the walk found the package
    assert find_cycle(graph) is None


def test_no_keras_src_import_in_the_package():
    found = []
    for module, path in package_modules().items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{module}: {name}" for name in names if name.startswith("keras.src")]
    assert found == []


def test_example_scripts_are_thin():
    """Issue 29: each script <= ~150 lines, no sys.path tricks, no model defined in a script.

    Files starting with `_` are the command-line helpers the scripts share.
    """
    too_long, tricks, models = [], [], []
    scripts = [name for name in sorted(os.listdir(EXAMPLES_DIR)) if name.endswith(".py")]
    assert len(scripts) >= 8
    for name in scripts:
        with open(os.path.join(EXAMPLES_DIR, name), encoding="utf-8") as f:
            source = f.read()
        if not name.startswith("_") and source.count("\n") > 150:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        if "sys.path.insert" in source or "sys.path.append" in source:
            tricks.append(name)
        if "(keras.Model)" in source or "(keras.layers.Layer)" in source:
            models.append(name)
    assert (too_long, tricks, models) == ([], [], [])


def test_the_library_neither_prints_nor_parses_command_lines():
    """No print(, SystemExit or argparse in keras_vaes/ outside strings and comments (issue 16)."""

    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "keras_vaes")):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as f:
                tokens = [t for t in tokenize.generate_tokens(io.StringIO(f.read()).readline)
                          if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE)]
            for token, after in zip(tokens, tokens[1:] + tokens[-1:]):
                if token.type != tokenize.NAME:
                    continue
                if (token.string == "print" and after.string == "(") or token.string in (
                        "SystemExit", "argparse"):
                    found.append(f"{os.path.relpath(path, ROOT)}:{token.start[0]}: {token.line.strip()}")
    assert not found, "\n".join(found)
