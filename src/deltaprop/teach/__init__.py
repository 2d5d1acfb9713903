"""Seeing backprop: ``explain`` (one step in the seeds' notation), diagrams, diagnosis, plots,
``gradcheck`` and the seed document's XOR network."""
