"""The playground: a page that trains a network on your data with the real engine, one step at a
time, and shows the network, its decision boundary, each neuron, the loss curves and one step of
backpropagation for any neuron, with the engine's own numbers (``deltaprop playground``)."""

from .server import Playground, serve
from .session import Session, Settings

__all__ = ["Playground", "Session", "Settings", "serve"]
