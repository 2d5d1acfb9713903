"""The fit loop: early stopping, sample/class weights, seeded shuffling, validation, metrics,
callbacks, convergence tolerance, L2 decay as in Nielsen, schedules, progress output."""

from __future__ import annotations

import numpy as np
import pytest

import deltaprop as dp
from deltaprop.train.data import prepare_targets, sample_weights


def data(n=60, n_in=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, np.minimum(y, k - 1)


def net(seed=0, dropout=0.0, widths=(4, 16, 3)):
    return dp.mlp(list(widths), activation="tanh", output_activation="softmax", dropout=dropout, seed=seed)


class Recorder(dp.Callback):
    """Keeps a copy of the weights and the logs at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.weights, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())
        self.logs.append(dict(logs))


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# ---------------------------------------------------------------------------------------------
# early stopping
# ---------------------------------------------------------------------------------------------
def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = data()
    Xv, yv = data(30, seed=1)
    yv = (yv + 1) % 3  # validation labels that disagree with training: val_loss soon rises
    model, rec = net(), Recorder()
    stop = dp.EarlyStopping("val_loss", patience=3)
    history = model.fit(X, y, optimizer=dp.Adam(lr=0.05), epochs=200, batch_size=20, validation_data=(Xv, yv),
                        callbacks=[stop, rec], seed=0)
    val = history["val_loss"]
    best = int(np.argmin(val))
    assert history.stopped_early and len(history) < 200
    assert len(history) == best + 1 + 3  # patience epochs without improvement, then stop
    assert stop.best_epoch == best and stop.stopped_epoch == len(history) - 1
    assert best < len(history) - 1  # the last weights are not the best, so restoring is visible
    assert_same_weights(model.get_weights(), rec.weights[best])
    assert model.evaluate(Xv, yv)["loss"] == pytest.approx(val[best], rel=1e-5)


def test_early_stopping_restores_the_best_weights_when_training_hits_epochs():
    X, y = data()
    Xv, yv = data(30, seed=1)
    yv = (yv + 1) % 3
    model, rec = net(), Recorder()
    history = model.fit(X, y, optimizer=dp.Adam(lr=0.05), epochs=12, batch_size=20, validation_data=(Xv, yv),
                        callbacks=[dp.EarlyStopping(patience=100), rec], seed=0)
    assert len(history) == 12 and not history.stopped_early
    best = int(np.argmin(history["val_loss"]))
    assert best < 11
    assert_same_weights(model.get_weights(), rec.weights[best])


def test_early_stopping_restores_when_training_ends_with_an_error():
    X, y = data()
    Xv, yv = data(30, seed=1)
    model, rec = net(), Recorder()

    def boom(epoch, logs):
        if epoch == 4:
            raise KeyboardInterrupt

    stop = dp.EarlyStopping("val_loss", patience=100)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, optimizer=dp.SGD(lr=0.5), epochs=50, batch_size=10, validation_data=(Xv, (yv + 1) % 3),
                  callbacks=[stop, rec, dp.LambdaCallback(on_epoch_end=boom)], seed=0)
    assert_same_weights(model.get_weights(), rec.weights[stop.best_epoch])
    assert stop.best_epoch < 4


def test_early_stopping_patience_and_min_delta_on_a_scripted_metric():
    """The monitored value is scripted (a callback writes it into the logs first), so the
    arithmetic of patience and min_delta is checked exactly."""
    scores = [1.0, 0.95, 0.945, 0.942, 0.5, 0.4]
    X, y = data()
    model, rec = net(), Recorder()

    def script(epoch, logs):
        logs["score"] = scores[epoch]

    stop = dp.EarlyStopping("score", patience=2, min_delta=0.01)
    history = model.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=6, callbacks=[dp.LambdaCallback(on_epoch_end=script),
                                                                             stop, rec])
    # 0.945 and 0.942 are within min_delta of 0.95: no improvement; the second one exhausts patience
    assert len(history) == 4 and history.stopped_early
    assert stop.best_epoch == 1 and stop.best == 0.95
    assert_same_weights(model.get_weights(), rec.weights[1])
    maximise = dp.EarlyStopping("val_accuracy")
    assert maximise.mode == "max"


def test_early_stopping_names_missing_monitor():
    X, y = data()
    with pytest.raises(ValueError, match=r"monitor 'val_loss' is not logged.*Pass validation data"):
        net().fit(X, y, epochs=2, callbacks=[dp.EarlyStopping()])


# ---------------------------------------------------------------------------------------------
# sample and class weights change the gradient exactly as weighting the loss would
# ---------------------------------------------------------------------------------------------
CASES = [("softmax", "categorical_crossentropy", 3), ("sigmoid", "binary_crossentropy", 2),
         ("identity", "mse", 2), ("tanh", "half_sse", 1)]


def _case(output, loss, k, seed=0):
    rng = np.random.default_rng(seed)
    model = dp.mlp([3, 5, k], activation="tanh", output_activation=output, seed=seed, dtype=np.float64)
    X = rng.normal(size=(7, 3))
    if loss == "categorical_crossentropy":
        y = rng.integers(0, k, 7)
    elif loss == "binary_crossentropy":
        y = rng.integers(0, 2, (7, k)).astype(float)
    else:
        y = rng.normal(size=(7, k))
    w = rng.uniform(0.0, 3.0, 7)
    return model, X, y, w


def _gradients(model, loss, X, y, w=None):
    loss_obj = dp.losses.get(loss) if isinstance(loss, str) else loss
    Y = prepare_targets(model, loss_obj, y, len(X), where="test")
    a = model.forward(X, training=False)
    value, delta, top = model.output_delta(loss_obj, a, Y, w)
    model._backward_from(top, delta)
    return value, {k: g.copy() for k, g in model.gradients().items()}


@pytest.mark.parametrize(("output", "loss", "k"), CASES)
def test_weighted_gradient_passes_gradcheck(output, loss, k):
    model, X, y, w = _case(output, loss, k)
    result = dp.gradcheck(model, loss, X, y, sample_weight=w)
    assert result.max_error < 1e-6, result.table()
    unweighted = dp.gradcheck(model, loss, X, y)
    assert not np.allclose(result.analytic["0.W"], unweighted.analytic["0.W"])  # the weights matter


@pytest.mark.parametrize(("output", "loss", "k"), CASES)
def test_weighted_gradient_is_the_weighted_sum_of_per_sample_gradients(output, loss, k):
    """∇(1/n Σ w_i L_i) = 1/n Σ w_i ∇L_i, each ∇L_i from the sample alone with reduction "sum"."""
    model, X, y, w = _case(output, loss, k)
    value, grads = _gradients(model, loss, X, y, w)
    per_loss = dp.losses.get(loss).__class__(reduction="sum")
    total_value, total = 0.0, {key: np.zeros_like(g) for key, g in grads.items()}
    for i in range(len(X)):
        v_i, g_i = _gradients(model, per_loss, X[i:i + 1], y[i:i + 1])
        total_value += w[i] * v_i / len(X)
        for key in total:
            total[key] += w[i] * g_i[key] / len(X)
    assert value == pytest.approx(total_value, rel=1e-12)
    for key in grads:
        np.testing.assert_allclose(grads[key], total[key], rtol=1e-10, atol=1e-14)


def test_integer_sample_weights_equal_repeating_samples():
    model, X, y, _ = _case("softmax", "categorical_crossentropy", 3)
    counts = np.array([1, 2, 0, 3, 1, 1, 2])
    loss = dp.CategoricalCrossEntropy(reduction="sum")
    v_w, g_w = _gradients(model, loss, X, y, counts.astype(float))
    v_r, g_r = _gradients(model, loss, np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert v_w == pytest.approx(v_r, rel=1e-12)
    for key in g_w:
        np.testing.assert_allclose(g_w[key], g_r[key], rtol=1e-10, atol=1e-14)


def test_class_weight_is_the_matching_sample_weight_and_one_fit_step_is_the_weighted_step():
    X, y = data(30)
    table = {0: 1.0, 1: 3.0, 2: 0.5}
    w = np.array([table[c] for c in y])

    def one_step(**kw):
        model = net(widths=(4, 6, 3)).astype(np.float64)
        history = model.fit(X, y, optimizer=dp.SGD(lr=0.3), epochs=1, shuffle=False, **kw)
        return model.get_weights(), history["loss"][0]

    by_class, loss_class = one_step(class_weight=table)
    by_sample, loss_sample = one_step(sample_weight=w)
    assert_same_weights(by_class, by_sample)
    assert loss_class == loss_sample
    # by hand: one full-batch step on the explicitly weighted loss 1/n Σ w_i L_i
    model = net(widths=(4, 6, 3)).astype(np.float64)
    start = model.get_weights()
    value, grads = _gradients(model, "categorical_crossentropy", X, y, w)
    a = model.forward(X, training=False)
    explicit = float(np.mean(w * -np.log(a[np.arange(len(y)), y])))
    assert loss_class == pytest.approx(explicit, rel=1e-12) and value == pytest.approx(explicit, rel=1e-12)
    for key in start:
        np.testing.assert_allclose(by_class[key], start[key] - 0.3 * grads[key], rtol=1e-12, atol=1e-15)
    unweighted, _ = one_step()
    assert not np.allclose(unweighted["0.W"], by_class["0.W"])


def test_balanced_class_weight_and_combination_with_sample_weight():
    y = np.array([0, 0, 0, 1])
    softmax = dp.mlp([2, 2], output_activation="softmax")
    ce = dp.CategoricalCrossEntropy()
    Y = np.eye(2)[y]

    def weights(sample_weight, class_weight, model=softmax, loss=ce, targets=Y):
        return sample_weights(model, loss, sample_weight, class_weight, targets)

    np.testing.assert_allclose(weights(None, "balanced"), [4 / 6, 4 / 6, 4 / 6, 2.0])
    np.testing.assert_allclose(weights([1, 2, 1, 1], {1: 5.0}), [1, 2, 1, 5])
    sigmoid = dp.mlp([2, 1], output_activation="sigmoid")
    column = y.reshape(-1, 1).astype(float)
    np.testing.assert_allclose(weights(None, "balanced", sigmoid, dp.BinaryCrossEntropy(), column),
                               [4 / 6, 4 / 6, 4 / 6, 2.0])
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        weights([1, 2], None)
    with pytest.raises(ValueError, match="class_weight must be a dict"):
        weights(None, "even")


# ---------------------------------------------------------------------------------------------
# seeded shuffling and reproducibility
# ---------------------------------------------------------------------------------------------
def _train(seed, model_seed=0, dropout=0.0, **kw):
    X, y = data(64)
    model = net(model_seed, dropout)
    model.fit(X, y, optimizer=dp.SGD(lr=0.2, momentum=0.9), epochs=4, batch_size=8, seed=seed, **kw)
    return model.get_weights()


def test_same_seed_gives_bitwise_the_same_weights_and_another_seed_does_not():
    assert_same_weights(_train(1), _train(1))
    assert_same_weights(_train(1, dropout=0.3), _train(1, dropout=0.3))
    assert_same_weights(_train(None, model_seed=5), _train(None, model_seed=5))  # the model's own generator
    a, b = _train(1), _train(2)
    assert any(not np.array_equal(a[k], b[k]) for k in a)
    c = _train(1, shuffle=False)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_each_epoch_sees_every_sample_once_in_a_new_seeded_order():
    X = np.arange(20, dtype=float).reshape(20, 1)  # the feature is the sample's index
    y = np.zeros(20)

    def orders(seed, shuffle=True):
        seen = []
        model = dp.mlp([1, 1], seed=0)
        model.fit(X, y, optimizer="sgd", epochs=3, batch_size=6, seed=seed, shuffle=shuffle, loss="mse",
                  augment=lambda b, rng: (seen.extend(b[:, 0].astype(int).tolist()), b.copy())[1])
        return [seen[i * 20:(i + 1) * 20] for i in range(3)]

    a = orders(3)
    for epoch in a:
        assert sorted(epoch) == list(range(20))
    assert a[0] != a[1] != a[2]
    assert a == orders(3)
    assert a != orders(4)
    assert orders(3, shuffle=False) == [list(range(20))] * 3


# ---------------------------------------------------------------------------------------------
# validation, metrics, history
# ---------------------------------------------------------------------------------------------
def test_history_has_train_and_validation_metrics():
    X, y = data(50)
    Xv, yv = data(20, seed=3)
    model = net()
    start = model.copy()
    names = ["accuracy", "mse", "mae", "r2", "log_loss"]
    history = model.fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=3, metrics=names, validation_data=(Xv, yv))
    for name in ["loss", *names, "lr"]:
        assert len(history[name]) == 3
    for name in ["loss", *names]:
        assert len(history[f"val_{name}"]) == 3
    # full batch: the first epoch's training metrics are those of the initial network
    a0 = start.predict(X)
    Y = np.eye(3)[y]
    assert history["accuracy"][0] == pytest.approx(dp.metrics.accuracy(a0, y))
    assert history["mse"][0] == pytest.approx(dp.metrics.mse(a0, Y), rel=1e-5)
    assert history["log_loss"][0] == pytest.approx(dp.metrics.log_loss(a0, y), rel=1e-5)
    # validation metrics are those of the network at the end of the epoch
    final = model.evaluate(Xv, yv, metrics=names)
    for name, value in final.items():
        assert history[f"val_{name}"][-1] == pytest.approx(value, rel=1e-5)


def test_validation_split_is_seeded_and_held_out():
    X, y = data(50)
    sizes = []

    def grab(b, rng):
        sizes.append(len(b))
        return b.copy()

    h1 = net().fit(X, y, epochs=2, validation_split=0.2, seed=4, augment=grab)
    assert sum(sizes) == 2 * 40  # 10 of the 50 samples never train
    h2 = net().fit(X, y, epochs=2, validation_split=0.2, seed=4)
    assert h1["val_loss"] == h2["val_loss"]
    with pytest.raises(ValueError, match="validation_split must be in"):
        net().fit(X, y, validation_split=1.5)
    with pytest.raises(ValueError, match="not both"):
        net().fit(X, y, validation_split=0.2, validation_data=(X, y))


# ---------------------------------------------------------------------------------------------
# callbacks, convergence, divergence
# ---------------------------------------------------------------------------------------------
def test_callback_hooks_run_in_order_and_can_stop_training():
    X, y = data(20)
    events = []
    hooks = {name: (lambda *a, _name=name: events.append(_name))
             for name in ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end",
                          "on_train_end")}
    net().fit(X, y, epochs=2, batch_size=10, callbacks=[dp.LambdaCallback(**hooks)])
    epoch = ["on_epoch_begin", "on_batch_begin", "on_batch_end", "on_batch_begin", "on_batch_end", "on_epoch_end"]
    assert events == ["on_train_begin", *epoch, *epoch, "on_train_end"]

    class StopAfterThreeBatches(dp.Callback):
        def on_train_begin(self, logs=None):
            self.batches = 0

        def on_batch_end(self, batch, logs=None):
            self.batches += 1
            if self.batches == 3:
                self.model.stop_training = True

    cb = StopAfterThreeBatches()
    history = net().fit(X, y, epochs=10, batch_size=5, callbacks=[cb])
    assert cb.batches == 3 and len(history) == 1 and history.stopped_early


def test_tol_stops_when_the_loss_stops_improving():
    X, y = data(20)
    history = net().fit(X, y, optimizer=dp.SGD(lr=1e-3), epochs=100, tol=10.0, n_iter_no_change=4)
    assert len(history) == 5 and history.stopped_early  # the first epoch sets the best, 4 more stall
    history = net().fit(X, y, optimizer=dp.SGD(lr=0.5), epochs=8, tol=0.0, n_iter_no_change=50)
    assert len(history) == 8


def test_divergence_raises_a_clear_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2)) * 100
    y = rng.normal(size=16) * 1e3
    model = dp.mlp([2, 8, 1], activation="relu", seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="Lower the learning rate"):
        model.fit(X, y, optimizer=dp.SGD(lr=10.0), epochs=50, loss="mse")


# ---------------------------------------------------------------------------------------------
# regularisation, schedules, dropout
# ---------------------------------------------------------------------------------------------
def test_weight_decay_is_nielsens_l2_rule():
    """SGD(lr=η, weight_decay=λ/n, decay_bias=False) on a mean loss: w ← (1 − ηλ/n) w − η ∂C₀/∂w and
    b ← b − η ∂C₀/∂b (Nielsen ch. 3, eq. 93), n the training-set size, here one full batch."""
    X, y = data(40)
    eta, lam, n = 0.5, 5.0, len(X)
    model = net().astype(np.float64)
    start = model.get_weights()
    _, grads = _gradients(model.copy(), "categorical_crossentropy", X, y)
    opt = dp.SGD(lr=eta, weight_decay=lam / n, decay_bias=False)
    model.fit(X, y, optimizer=opt, epochs=1, shuffle=False, loss="categorical_crossentropy")
    after = model.get_weights()
    for key in start:
        decay = (1 - eta * lam / n) if key.endswith(".W") else 1.0
        np.testing.assert_allclose(after[key], decay * start[key] - eta * grads[key], rtol=1e-12, atol=1e-15)
    # the default also decays the biases, as torch.optim.SGD's weight_decay does
    model = net().astype(np.float64)
    model.fit(X, y, optimizer=dp.SGD(lr=eta, weight_decay=lam / n), epochs=1, shuffle=False)
    np.testing.assert_allclose(model.get_weights()["0.b"], (1 - eta * lam / n) * start["0.b"] - eta * grads["0.b"],
                               rtol=1e-12, atol=1e-15)
    assert dp.optimizers.from_config(opt.get_config()).decay_bias is False


def test_adamw_decay_bias_false_leaves_biases_undecayed():
    params = {"0.W": np.ones(3), "0.b": np.ones(3)}
    grads = {"0.W": np.zeros(3), "0.b": np.zeros(3)}
    dp.AdamW(lr=0.1, weight_decay=0.5, decay_bias=False).step(params, grads)
    np.testing.assert_allclose(params["0.W"], 0.95)
    np.testing.assert_allclose(params["0.b"], 1.0)


def test_lr_schedule_is_logged_per_epoch():
    X, y = data(20)
    history = net().fit(X, y, optimizer=dp.SGD(lr=0.1), epochs=5, lr_schedule=dp.StepLR(2, gamma=0.5))
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_dropout_trains_differently_and_predicts_deterministically():
    X, y = data(40)
    plain, dropped = _train(1), _train(1, dropout=0.5)
    assert not np.array_equal(plain["0.W"], dropped["0.W"])
    model = net(dropout=0.5)
    model.fit(X, y, epochs=2, batch_size=10, seed=0)
    np.testing.assert_array_equal(model.predict(X), model.predict(X))


# ---------------------------------------------------------------------------------------------
# progress output
# ---------------------------------------------------------------------------------------------
def test_verbose_2_prints_a_line_per_epoch_with_metrics(capsys):
    X, y = data(20)
    net().fit(X, y, epochs=3, verbose=2, metrics=["accuracy"], validation_split=0.25, seed=0)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/3") and "loss=" in lines[0] and "accuracy=" in lines[0]
    assert "val_accuracy=" in lines[-1]


def test_verbose_1_shows_a_bar_with_loss_and_metrics(capsys):
    X, y = data(20)
    net().fit(X, y, epochs=3, verbose=1, metrics=["accuracy"])
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "accuracy=" in err
    net().fit(X, y, epochs=2, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    with pytest.raises(ValueError, match="verbose must be 0"):
        net().fit(X, y, verbose=3)
