"""The seeds' equations: activations σ / σ', layers (z = a_prev Wᵀ + b and its backward), losses,
initialisers, metrics, and ``Sequential`` / ``mlp``, which chain them (docs/backprop.md)."""
