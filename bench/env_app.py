"""The emulator as a WSGI app configured from MOCKFABRIC_* env vars, to run it under other servers for comparison
(e.g. `gunicorn -k gevent -w 1 env_app:app`). Not a supported way to serve: see bench/SERVERS.md."""

from mockfabric import create_app
from mockfabric.config import load_settings

app = create_app(load_settings({}))
