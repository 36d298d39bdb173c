"""Shells over the stages: the Python API, option checks, conversion jobs, the command line, the add-on's worker, the preview, writing through Blender."""
