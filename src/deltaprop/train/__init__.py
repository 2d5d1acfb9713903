"""The training loop and its seams: batch sources, ``Trainer.step`` / ``end_epoch``, callbacks,
checkpoints, divergence and interruption handling, augmentation (docs/architecture.md)."""
