"""Video file → Keypoints2D: decoding, MediaPipe Pose, following one subject, parallel detection, the keypoints cache. OpenCV and MediaPipe, never torch."""
