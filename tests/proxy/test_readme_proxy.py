"""The README's proxy commands use only flags the commands have (their --help lists them)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_flag_of_the_readme_proxy_commands_exists() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- proxy-commands:", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.replace("\\\n", " ").splitlines() if line.startswith("mockfabric ")]
    assert len(commands) == 4
    for command in commands:
        words = command.split("#", 1)[0].split()
        subcommand = words[1:3] if words[1] == "fixtures" else words[1:2]
        shown = subprocess.run([sys.executable, "-m", "mockfabric", *subcommand, "--help"], capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        for flag in re.findall(r"(?<!\S)(--[a-z-]+|-o)(?=\s|$)", command):
            assert flag in shown.stdout, (command, flag)
