"""The update w ← w − η ∂L/∂w and its refinements: optimizers, learning-rate schedules and the
optional fused (numba) kernels."""
