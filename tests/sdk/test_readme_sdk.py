"""The README's SDK snippet runs as written against `mockfabric serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_readme_sdk_snippet(tmp_path: Path) -> None:
    code = README.split("<!-- sdk-example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    server = subprocess.Popen([sys.executable, "-m", "mockfabric", "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("serving on ", 1)[1].split()[0]
        script = tmp_path / "snippet.py"
        script.write_text(code.replace('"http://127.0.0.1:8080"', repr(url)))
        result = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            env={**os.environ, "HOME": str(tmp_path)},
        )  # the SDK writes ~/.huaweicloud/application_id: keep it in tmp
        assert result.returncode == 0, result.stderr
        workspace_id, total = result.stdout.splitlines()[0].split()
        assert len(workspace_id) == 36 and total == "1" and result.stdout.splitlines()[1] == "0"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0
        server.communicate(timeout=5)
