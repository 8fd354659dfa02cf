"""The typed service core: the rules of the emulated service. No Flask, no HTTP (no request paths, URL names or base
URLs), no I/O, no wall-clock reads (time comes from a Clock). `core.Service` is the state; each resource module holds
its operations, typed functions bound to the contract by `web/adapter.py`."""
