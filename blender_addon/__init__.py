"""Video Mocap: motion capture from a video onto an armature (a Blender 4.2+ extension).

Thin on purpose: Blender calls register()/unregister(); the classes are listed in registration.py. Importing
this package does not import bpy, so its pure-Python parts (worker_client, engine) work outside Blender.
"""

from __future__ import annotations


def register() -> None:
    from . import registration

    registration.register()


def unregister() -> None:
    from . import registration

    registration.unregister()
