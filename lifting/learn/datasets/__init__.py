"""The motion-capture training data: BVH, ASF/AMC and CMU array readers, mapping to our joints, virtual MediaPipe landmarks, subject splits, random-camera views, the labeled pack."""
