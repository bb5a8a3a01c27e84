"""A private copy of the shipped content that a test may break, as an editor would."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Workspace:
    """flows/, examples/, contacts.yaml and keywords.yaml copied into a temp folder."""

    def __init__(self, root: Path):
        self.root = root
        shutil.copytree(ROOT / "flows", root / "flows")
        shutil.copytree(ROOT / "examples", root / "examples")
        for name in ("contacts.yaml", "keywords.yaml", "staff.yaml"):
            shutil.copy(ROOT / name, root / name)

    @property
    def config(self) -> dict:
        return {"FLOWS_DIR": str(self.root / "flows"),
                "CONTACTS_FILE": str(self.root / "contacts.yaml"),
                "KEYWORDS_FILE": str(self.root / "keywords.yaml"),
                "EXAMPLES_DIR": str(self.root / "examples"),
                "STAFF_FILE": str(self.root / "staff.yaml")}

    def edit(self, name: str, old: str, new: str, count: int = 1) -> None:
        """Replace text in a content file; the text must be there."""
        path = self.root / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    def line_of(self, name: str, text: str) -> int:
        """The 1-based line where `text` (which may span lines) first starts."""
        content = (self.root / name).read_text(encoding="utf-8")
        at = content.find(text)
        assert at >= 0, f"{text!r} not in {name}"
        return content.count("\n", 0, at) + 1


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "content")
