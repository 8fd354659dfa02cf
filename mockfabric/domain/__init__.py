"""Pure-Python rules of the emulated service: no Flask, no I/O, no wall-clock reads (time comes from a Clock)."""
