"""`make help` lists every target of the Makefile, each on one line."""

from __future__ import annotations

import re

from tests.support.scripts import SCRIPTS

MAKEFILE = (SCRIPTS.parent / "Makefile").read_text()


def test_make_help_lists_every_phony_target_once():
    phony = re.search(r"^\.PHONY:(.*?)(?<!\\)$", MAKEFILE, re.M | re.S)
    assert phony is not None
    targets = phony.group(1).replace("\\\n", " ").split()
    help_recipe = MAKEFILE[MAKEFILE.index("\nhelp:\n") :].split("\n\n", 1)[0]
    listed = re.findall(r'@echo "make ([\w-]+) ', help_recipe)
    assert sorted(listed) == sorted(targets)
    assert len(targets) == 14
