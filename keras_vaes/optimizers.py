"""One optimizer per network, behind the single optimizer Keras trains with.

Adversarial models of the package (GAMIX-VAE's PatchGAN, the AAE and
Prior-AAE) update their networks with their own optimizers, in one step.
Keras's `fit` drives exactly one `model.optimizer` on every backend (on JAX
its variables are part of the jitted training state), so the models compile
with a `GroupedOptimizer`: it routes each variable's gradient to the
optimizer of the group the variable belongs to. Keras's own `train_step` then
works unchanged on TensorFlow, JAX and PyTorch, and under
`tf.distribute` / `keras.distribution`.

Example:
>>> import keras
>>> from keras_vaes.optimizers import GroupedOptimizer
>>> a, b = keras.Variable(1.0), keras.Variable(1.0)
>>> opt = GroupedOptimizer([(keras.optimizers.SGD(0.1), [a]),
...                         (keras.optimizers.SGD(1.0), [b])])
>>> opt.apply([keras.ops.ones(()), keras.ops.ones(())], [a, b])
>>> round(float(a.numpy()), 4), round(float(b.numpy()), 4)
(0.9, 0.0)
"""

import keras

from keras_vaes.layers.core import PACKAGE


def _multi_replica_context():
    """The `tf.distribute` replica context when it has several replicas."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


@keras.saving.register_keras_serializable(package=PACKAGE)
class GroupedOptimizer(keras.optimizers.Optimizer):
    """Applies each group of variables' gradients with the group's optimizer.

    Args:
        groups: list of `(optimizer, variables)` pairs: a Keras optimizer and
            the variables it updates. A variable belongs to one group at most.
        name: string. Defaults to `"grouped_optimizer"`.

    The optimizers keep their own hyperparameters, schedules and state
    (`variables` lists the state of all of them, so checkpoints and JAX's
    stateless step carry every group). The outer `learning_rate` is unused;
    schedule each group's optimizer instead. Gradients for variables that
    belong to no group raise an error: a silent skip would freeze a network.
    """

    def __init__(self, groups, name="grouped_optimizer", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        groups = list(groups)
        if not groups:
            raise ValueError("GroupedOptimizer needs at least one (optimizer, variables) pair. Received: groups=[]")
        for index, pair in enumerate(groups):
            if len(pair) != 2 or not isinstance(pair[0], keras.optimizers.Optimizer):
                raise ValueError(
                    "Each group must be an (optimizer, variables) pair with a Keras "
                    f"optimizer. Received at position {index}: {pair!r}"
                )
        self._group_optimizers = [optimizer for optimizer, _ in groups]
        if keras.backend.backend() == "tensorflow":
            # Under tf.distribute, Keras's TF optimizer all-reduces its
            # gradients in `_all_reduce_sum_gradients`; with one optimizer
            # per group the replicas would issue one collective per group,
            # and mismatched them (a shape-mismatch abort). The grouped
            # optimizer all-reduces every gradient once (`apply`); the
            # groups' optimizers, applied only through it, skip theirs.
            for optimizer in self._group_optimizers:
                vars(optimizer)["_all_reduce_sum_gradients"] = list
        # Keys, not the variables: an attribute holding variables would be
        # tracked as optimizer state.
        self._group_of = {}
        for group, (_, variables) in enumerate(groups):
            for variable in variables:
                key = self._var_key(variable)
                if self._group_of.get(key, group) != group:
                    raise ValueError(
                        f"Variable {variable.path} is listed in groups "
                        f"{self._group_of[key]} and {group}."
                    )
                self._group_of[key] = group

    @property
    def optimizers(self):
        """The optimizers of the groups, in order."""
        return list(self._group_optimizers)

    @property
    def variables(self):
        state = self._variables[:]
        for optimizer in self._group_optimizers:
            state.extend(optimizer.variables)
        return state

    def _split(self, values, variables):
        index = self._group_of
        split = [([], []) for _ in self._group_optimizers]
        for value, variable in zip(values, variables):
            group = index.get(self._var_key(variable))
            if group is None:
                raise ValueError(
                    f"Variable {variable.path} belongs to no group of {self.name}: "
                    "list it with the optimizer that should update it."
                )
            split[group][0].append(value)
            split[group][1].append(variable)
        return split

    def build(self, variables):
        for optimizer, (_, members) in zip(self._group_optimizers, self._split(variables, variables)):
            if not optimizer.built:
                optimizer.build(members)
        super().build(variables)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables."
                )
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
        grads = list(grads)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"Expected one gradient per variable. Received: {len(grads)} gradients "
                f"for {len(trainable_variables)} variables."
            )
        context = _multi_replica_context()
        if context is None:
            self._apply_groups(grads, trainable_variables)
            return
        # tf.distribute: all-reduce every gradient here, in one call as
        # Keras's optimizer does; the groups' optimizers do not reduce again
        # (see `__init__`).
        pairs = [(g, v) for g, v in zip(grads, trainable_variables) if g is not None]
        reduced = context.all_reduce("sum", [g for g, _ in pairs])
        self._apply_groups(reduced, [v for _, v in pairs])

    def _apply_groups(self, grads, trainable_variables):
        for optimizer, (group_grads, group_variables) in zip(
            self._group_optimizers, self._split(grads, trainable_variables)
        ):
            if group_variables:
                optimizer.apply(group_grads, group_variables)
        self._iterations.assign_add(1)

    def get_config(self):
        # The variable groups are not serialisable: a model that compiles
        # with a GroupedOptimizer stores its optimizers in its own compile
        # config and builds the grouping again in `compile`.
        return {
            "name": self.name,
            "optimizers": [keras.optimizers.serialize(o) for o in self._group_optimizers],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        raise ValueError(
            "A GroupedOptimizer is rebuilt by the model that owns the variable "
            "groups (its `compile`), not from a config. Received: "
            f"config with optimizers {[o.get('class_name') for o in config.get('optimizers', [])]}"
        )
