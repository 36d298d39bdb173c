"""Video → 2D keypoints → 3D motion: the worker-side stack (torch, numpy, OpenCV, MediaPipe). Never imports bpy."""

__version__ = "0.1.0"
