"""MkDocs hooks: the docs read the repository's files where they are.

- Figures and records under `weights/` and `benchmarks/results/` are added
  to the site as they are (no copies in docs/), so a page links them as
  `../weights/<run>/figure.png`.
- `<!-- include-if-exists: PATH | Heading -->` is replaced by the heading and
  the file's text when PATH exists (its headings demoted below the heading,
  its relative links pointed at the file's folder), and by nothing when it
  does not: a result another run has not committed yet leaves no trace.
- `<!-- tutorial: PATH -->` renders a keras.io-style script: its `\"\"\"...\"\"\"`
  blocks become text, the code between them Python blocks.
- `<!-- presets-table -->` is the table of `keras_vaes.pretrained.PRESETS`,
  read from the source (nothing imported), so a new preset shows up by itself.
"""

import ast
import glob
import os
import posixpath
import re

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = ("weights", "benchmarks/results")
INCLUDE = re.compile(r"<!--\s*include-if-exists:\s*(\S+)\s*\|\s*(.+?)\s*-->")
TUTORIAL = re.compile(r"<!--\s*tutorial:\s*(\S+)\s*-->")
PRESETS = re.compile(r"<!--\s*presets-table\s*-->")
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def on_files(files, config):
    for folder in SHARED:
        for path in glob.glob(os.path.join(ROOT, folder, "**", "*"), recursive=True):
            if os.path.isfile(path) and path.endswith((".png", ".csv", ".md", ".jsonl")):
                uri = os.path.relpath(path, ROOT).replace(os.sep, "/")
                if files.get_file_from_path(uri) is None:
                    files.append(File(uri, ROOT, config["site_dir"], config["use_directory_urls"]))
    return files


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _include(match, page):
    path, heading = match.group(1), match.group(2)
    if not os.path.isfile(os.path.join(ROOT, path)):
        return ""
    level = len(heading) - len(heading.lstrip("#"))
    folder = posixpath.dirname(path)
    depth = page.file.src_uri.count("/")

    def relink(link):
        target = link.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return link.group(0)
        return link.group(1) + "../" * depth + posixpath.join(folder, target) + link.group(3)

    lines = []
    for line in _read(path).splitlines():
        if re.match(r"^#{1,5} ", line):
            line = "#" * level + line
        lines.append(LINK.sub(relink, line))
    source = f"*From [`{path}`]({'../' * depth}{path}).*"
    return f"{heading}\n\n{source}\n\n" + "\n".join(lines) + "\n"


def _tutorial(match):
    path = match.group(1)
    text = _read(path)
    parts = re.split(r'^"""\n?(.*?)\n?"""$', text, flags=re.M | re.S)
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 1:
            meta = re.findall(r"^(Title|Author|Description|Paper|Runs in): (.*)$", part, flags=re.M)
            if meta and i == 1:
                for key, value in meta:
                    out.append(f"# {value}" if key == "Title" else f"**{key}:** {value}")
            else:
                out.append(part.strip())
        elif part.strip():
            out.append("```python\n" + part.strip("\n") + "\n```")
    out.append(f"The whole script is `{path}`; run it with `python {path}`.")
    return "\n\n".join(out)


def _presets_table():
    tree = ast.parse(_read("keras_vaes/pretrained.py"))
    node = next(
        node.value for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PRESETS"
    )
    presets = {}
    for key, value in zip(node.keys, node.values):
        try:
            presets[ast.literal_eval(key)] = ast.literal_eval(value)
        except ValueError:  # an entry built from names: list it without its details
            presets[ast.literal_eval(key)] = {"builder": "?", "config": {}, "file": "?", "sha256": None}
    setup = _read("setup.cfg")
    rows = ["| preset | builder | config | file | in the wheel | SHA-256 |", "|---|---|---|---|---|---|"]
    for name, p in presets.items():
        config = ", ".join(f"{k}={v!r}" for k, v in p["config"].items())
        bundled = "yes" if f"weights/{p['file']}" in setup else "no (see below)"
        rows.append(f"| `{name}` | `{p['builder']}` | `{config}` | `{p['file']}` | {bundled} | `{(p['sha256'] or '')[:12]}…` |")
    return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):
    markdown = INCLUDE.sub(lambda m: _include(m, page), markdown)
    markdown = TUTORIAL.sub(_tutorial, markdown)
    markdown = PRESETS.sub(lambda m: _presets_table(), markdown)
    return markdown
