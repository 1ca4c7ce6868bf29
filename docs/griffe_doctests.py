"""Griffe extension: doctest examples render as code in the API pages.

The package's docstrings write `Example:` followed by unindented `>>>`
lines (keras-hub's style), which Google-style parsing leaves as plain
text (then `[0.7071, 0.7071]` reads as a link). Each run of lines from a
`>>>` line to the next blank line becomes a fenced `pycon` block.
"""

import re

import griffe

_BLOCK = re.compile(r"(?m)^([ \t]*)>>> .*(?:\n(?!\s*$).*)*")


def _fence(match):
    indent = match.group(1)
    return f"{indent}```pycon\n{match.group(0)}\n{indent}```"


class DoctestBlocks(griffe.Extension):
    def on_object(self, *, obj, **kwargs):
        docstring = obj.docstring
        if docstring is not None and ">>> " in docstring.value and "```" not in docstring.value:
            docstring.value = _BLOCK.sub(_fence, docstring.value)
