"""The teacher (BERT + MobileNetV2), the student, the text encoder and model directory I/O."""
