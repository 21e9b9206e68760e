"""The README stays true: its Python examples run, its links resolve, CI runs its test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) >= 3
    namespace: dict = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert "2.0 -1.0 1.0" in capsys.readouterr().out


def test_the_two_commands_and_ci():
    bash = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[0].splitlines()
    commands = [line.split("#")[0].strip() for line in bash if line.strip()]
    assert commands == ['pip install -e ".[dev]" && agc-train', "python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^python -m pytest$", ci, flags=re.M), "CI must run the README's command"
    assert 'pip install -q -e ".[dev]"' in ci


LINKS = sorted({link for link in re.findall(r"\]\(([^)#]+)\)", README)
                if not link.startswith(("http://", "https://"))})


@pytest.mark.parametrize("link", LINKS)
def test_relative_links_exist(link):
    assert (ROOT / link).exists(), link
