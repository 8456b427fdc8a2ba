"""What `python -m trainer.deploy_space` would upload, checked without a Hub: the app's code list and the Space's card.

The code list follows imports and `python -m` module names from app.py; the Space's README is
this README's front matter followed by trainer/space_card.md, a short page.
"""

from __future__ import annotations

import pytest
from deploy_helpers import CARD, ROOT

from trainer.deploy_space import DeployError, space_card

pytestmark = pytest.mark.slow  # kept with the deploy tests


def test_the_code_list_follows_imports_and_module_names_and_nothing_else(tmp_path):
    """A made-up project: lazy, relative and `python -m` imports are followed; unused and test modules are not."""
    from trainer.app_code import app_modules

    files = {
        "app.py": "import os\nfrom pkg import a\ndef later():\n    import pkg.lazy\n",
        "pkg/__init__.py": "",
        "pkg/a.py": "import sys\nCOMMAND = [sys.executable, '-m', 'pkg.sub.job']\nTESTS = 'tests.helper'\n"
        "TOOL = (sys.executable, '-m', 'runner', '--fast')\n",
        "runner/__init__.py": "",
        "runner/__main__.py": "from runner import core\n",
        "runner/core.py": "",
        "pkg/lazy.py": "from . import shared\n",
        "pkg/shared.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/job.py": "from ..tool import run\n",
        "pkg/tool.py": "import json\n",
        "pkg/unused.py": "import pkg.a\n",
        "tests/__init__.py": "",
        "tests/helper.py": "",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    found = app_modules(tmp_path, lambda part: part != "tests")
    assert found == set(files) - {"pkg/unused.py", "tests/__init__.py", "tests/helper.py"}


def test_the_space_card_is_the_readme_front_matter_and_a_short_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    front = readme[: readme.index("\n---\n", 4) + len("\n---\n")]
    card = CARD.decode()
    assert card.startswith(front)  # the Space configuration, byte for byte
    assert len(CARD) < 2_000 and len(CARD) < len(readme.encode()) / 3  # a short page, not this README
    assert "## Quick start" not in card and "$" not in card  # none of the README's body; every field filled
    assert "# An LSTM that learned to add\n" in card  # its title, from the front matter
    assert "[your-name/addition-lstm](https://huggingface.co/your-name/addition-lstm)" in card  # links the model


@pytest.mark.parametrize(
    "readme, says",
    [
        (b"# No front matter\n", "must start with the Space's front matter"),
        (b"---\n- a list\n---\n# x\n", "is not a YAML mapping"),
    ],
)
def test_a_readme_the_card_cannot_be_built_from_is_one_sentence(readme, says):
    with pytest.raises(DeployError, match=says):
        space_card(readme)
