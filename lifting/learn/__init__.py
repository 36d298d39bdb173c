"""Training, fine-tuning and evaluation of the lifting models, and the motion-capture datasets they learn from. Never imports app/."""
