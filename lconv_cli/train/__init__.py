"""Training: the Trainer (exact resume, atomic checkpoints), optimisers and schedules, numerical precision,
seeded random streams."""
