"""A page as a real browser builds it: Debian's chromium, headless, `--dump-dom`; and the rendered DOM read back as
elements (tag, attributes, the classes of the elements around it) and text, with the stdlib's HTML parser."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is missing: apt-get install chromium chromium-driver (.ci/run does)"
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--proxy-server=127.0.0.1:9",  # the discard port: any request the page tried would go nowhere
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    ancestors: list[str]  # tags of the elements around it, outermost first
    text: list[str] = field(default_factory=list)
    deep: list[str] = field(default_factory=list)  # its text and its descendants'

    @property
    def content(self) -> str:
        return "".join(self.deep)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class Dom(HTMLParser):
    """Every element of a serialized DOM, in document order, each with its own text and its whole content's."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs}, [e.tag for e in self._open])
        self.elements.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text.append(data)
        for element in self._open:
            element.deep.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]

    def text_of(self, tag: str) -> str:
        return "\n".join("".join(e.text) for e in self.find(tag))


def rendered(page: Path, profile: Path) -> Dom:
    """The DOM chromium built from `page` (a file URL: no server, no network)."""
    done = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return Dom(done.stdout)
