"""The seed, reproduced: deltaprop trains the seed script's XOR network to the script's own weights.

The test runs the seed document's loop itself (verbatim arithmetic, its own np.random.seed(42)
draws) and compares the final weights and biases with deltaprop's, trained with HalfSSE
(reduction "sum") and SGD(lr=0.1) for 10,000 full-batch epochs in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.seed import EPOCHS, LEARNING_RATE, XOR_X, XOR_Y, seed_initial_weights, seed_network


def run_seed_script(epochs: int = EPOCHS) -> dict[str, np.ndarray]:
    """The seed document's script, as written (global np.random.seed(42) included)."""

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    def sigmoid_derivative(x):
        return x * (1 - x)

    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    outputs = np.array([[0], [1], [1], [0]])
    np.random.seed(42)
    weights_input_hidden = np.random.rand(2, 2)
    weights_hidden_output = np.random.rand(2, 1)
    bias_hidden = np.random.rand(1, 2)
    bias_output = np.random.rand(1, 1)
    learning_rate = 0.1
    for _epoch in range(epochs):
        hidden_layer_input = np.dot(inputs, weights_input_hidden) + bias_hidden
        hidden_layer_output = sigmoid(hidden_layer_input)
        output_layer_input = np.dot(hidden_layer_output, weights_hidden_output) + bias_output
        predicted_output = sigmoid(output_layer_input)
        error = outputs - predicted_output
        d_predicted_output = error * sigmoid_derivative(predicted_output)
        error_hidden_layer = d_predicted_output.dot(weights_hidden_output.T)
        d_hidden_layer = error_hidden_layer * sigmoid_derivative(hidden_layer_output)
        weights_hidden_output += hidden_layer_output.T.dot(d_predicted_output) * learning_rate
        weights_input_hidden += inputs.T.dot(d_hidden_layer) * learning_rate
        bias_output += np.sum(d_predicted_output, axis=0, keepdims=True) * learning_rate
        bias_hidden += np.sum(d_hidden_layer, axis=0, keepdims=True) * learning_rate
    return {"W_ih": weights_input_hidden, "W_ho": weights_hidden_output, "b_h": bias_hidden, "b_o": bias_output,
            "printed": predicted_output}


def test_initial_weights_are_the_scripts_draws_transposed():
    np.random.seed(42)
    w_ih, w_ho, b_h, b_o = np.random.rand(2, 2), np.random.rand(2, 1), np.random.rand(1, 2), np.random.rand(1, 1)
    w = seed_initial_weights()
    np.testing.assert_array_equal(w["0.W"], w_ih.T)  # W[j, i] = w_ji: (n_out, n_in)
    np.testing.assert_array_equal(w["2.W"], w_ho.T)
    np.testing.assert_array_equal(w["0.b"], b_h[0])
    np.testing.assert_array_equal(w["2.b"], b_o[0])


@pytest.mark.parametrize("how", ["fit", "hand_loop"])
def test_seed_script_reproduced_to_1e9(how):
    ref = run_seed_script()
    model = seed_network(dtype=np.float64)
    loss, opt = dp.HalfSSE(reduction="sum"), dp.SGD(lr=LEARNING_RATE)
    if how == "fit":
        model.fit(XOR_X, XOR_Y, loss=loss, optimizer=opt, epochs=EPOCHS, shuffle=False)
    else:
        for _ in range(EPOCHS):
            model.backward(loss.grad(model.forward(XOR_X), XOR_Y))
            opt.step(model)
    p = model.parameters()
    np.testing.assert_allclose(p["0.W"], ref["W_ih"].T, rtol=0, atol=1e-9)
    np.testing.assert_allclose(p["2.W"], ref["W_ho"].T, rtol=0, atol=1e-9)
    np.testing.assert_allclose(p["0.b"], ref["b_h"][0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(p["2.b"], ref["b_o"][0], rtol=0, atol=1e-9)


def test_printed_predictions_are_the_forward_pass_before_the_last_update():
    """The script prints the forward pass of its last epoch, taken before that epoch's update."""
    ref = run_seed_script(epochs=50)
    model = seed_network()
    model.fit(XOR_X, XOR_Y, loss=dp.HalfSSE(reduction="sum"), optimizer=dp.SGD(lr=0.1), epochs=49, shuffle=False)
    np.testing.assert_allclose(model.predict(XOR_X), ref["printed"], rtol=0, atol=1e-12)
    model.fit(XOR_X, XOR_Y, loss=dp.HalfSSE(reduction="sum"), optimizer=dp.SGD(lr=0.1), epochs=1, shuffle=False)
    p = model.parameters()
    np.testing.assert_allclose(p["2.W"], ref["W_ho"].T, rtol=0, atol=1e-12)


def test_seed_network_learns_xor():
    model = seed_network()
    model.fit(XOR_X, XOR_Y, loss=dp.HalfSSE(reduction="sum"), optimizer=dp.SGD(lr=0.1), epochs=EPOCHS,
              shuffle=False)
    np.testing.assert_array_equal(model.predict_classes(XOR_X), XOR_Y[:, 0])
