"""GroupedOptimizer routes each gradient to its group's optimizer, in `fit` too."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vaes.optimizers import GroupedOptimizer


class TwoNetworks(keras.Model):
    """g is trained through a frozen d (stop-gradient weights), d on sg(g(x))."""

    def __init__(self):
        super().__init__()
        self.g = keras.layers.Dense(1, kernel_initializer="ones", name="g")
        self.d = keras.layers.Dense(1, kernel_initializer="ones", name="d")

    def call(self, x):
        return self.g(x)

    def compile(self, **kwargs):
        self(np.zeros((1, 1), "float32"))
        self.d(np.zeros((1, 1), "float32"))
        super().compile(optimizer=GroupedOptimizer([
            (keras.optimizers.SGD(0.1), self.g.trainable_variables),
            (keras.optimizers.SGD(1.0), self.d.trainable_variables),
        ]), **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        frozen = [ops.stop_gradient(v) for v in self.d.trainable_variables]
        through_d, _ = self.d.stateless_call(frozen, [], y_pred)
        return ops.mean(through_d) + ops.mean(self.d(ops.stop_gradient(y_pred)))


def values(variables):
    return [float(ops.convert_to_numpy(v).ravel()[0]) for v in variables]


def test_fit_applies_each_group_with_its_optimizer(tmp_path):
    model = TwoNetworks()
    model.compile()
    x = np.full((4, 1), 2.0, "float32")
    model.fit(x, batch_size=4, epochs=1, verbose=0)
    # dL/dg_kernel = mean(x) * d_kernel = 2 (lr 0.1); dL/dg_bias = 1;
    # dL/dd_kernel = mean(g(x)) = 2 (lr 1.0); dL/dd_bias = 1.
    np.testing.assert_allclose(values(model.g.trainable_variables), [0.8, -0.1], rtol=1e-6)
    np.testing.assert_allclose(values(model.d.trainable_variables), [-1.0, -1.0], rtol=1e-6)
    inner = model.optimizer.optimizers
    assert [int(ops.convert_to_numpy(o.iterations)) for o in inner] == [1, 1]
    # Optimizer state = its own (iterations, lr) + both inner optimizers'.
    assert len(model.optimizer.variables) == 2 + sum(len(o.variables) for o in inner)


def test_errors_name_the_variable():
    a, b = keras.Variable(1.0, name="a"), keras.Variable(1.0, name="b")
    with pytest.raises(ValueError, match="groups 0 and 1"):
        GroupedOptimizer([(keras.optimizers.SGD(), [a]), (keras.optimizers.SGD(), [a])])
    optimizer = GroupedOptimizer([(keras.optimizers.SGD(), [a])])
    with pytest.raises(ValueError, match="belongs to no group"):
        optimizer.apply([ops.ones(()), ops.ones(())], [a, b])
    with pytest.raises(ValueError, match="optimizer, variables"):
        GroupedOptimizer([("adam", [a])])
