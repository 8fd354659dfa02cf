"""The package's version, in a module of its own: what reports it (the CLI, the control API's ready answer) need
not import the package's root, whose lazy names reach most of the package."""

__version__ = "0.1.0"
