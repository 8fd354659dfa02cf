"""The hello-world ceiling (`ceiling_app.py`) on the server `mockfabric serve` runs, with its default settings:
uvicorn, the ASGI front, small requests answered on the event loop. What the emulator's own work costs is the
difference between the two.

Usage: python bench/ceiling_server.py PORT    (serves until SIGTERM/SIGINT)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout as well as from an install

from ceiling_app import app

from mockfabric.config import Settings
from mockfabric.serving import Server

if __name__ == "__main__":
    Server(Settings(port=int(sys.argv[1])), app).run()
