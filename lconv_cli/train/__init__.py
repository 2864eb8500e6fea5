"""Training: the Trainer (exact resume, atomic checkpoints), optimisers and schedules, seeded random streams."""
