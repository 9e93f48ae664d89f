"""One folder per backend, each with the same module names: ``model.py`` holds the backend's ``Model``.

Importing this package imports no framework; :func:`backprop.build` imports a backend only when asked for it.
"""
