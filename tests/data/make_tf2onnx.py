"""Makes tests/data/keras_cnn.opset{13,18}.onnx and keras_cnn.npz: a small Keras CNN converted by tf2onnx.

Not run by the tests (TensorFlow is not a test dependency): the files it wrote are committed. To
make them again: ``python -m venv tf && tf/bin/pip install tensorflow-cpu tf2onnx`` then
``tf/bin/python tests/data/make_tf2onnx.py`` (tensorflow-cpu 2.21.0, tf2onnx 1.17.0 made these).

The model is channels-last, as Keras models are: input (N, L, 4) -> Conv1D(8, 5, same, ReLU) ->
MaxPool1D(2) -> Conv1D(8, 3, same, ReLU) -> GlobalAveragePooling1D -> Dense(2), without biases, so
that LRP-0 equals gradient x input. ``keras_cnn.npz`` holds a seeded one-hot batch ``x`` (N, L, 4),
the Keras logits and Keras's own gradient x input of logit 1 (tf.GradientTape), (N, L, 4).
"""

import os

import numpy as np
import tensorflow as tf
import tf2onnx

L = 40
HERE = os.path.dirname(os.path.abspath(__file__))

tf.keras.utils.set_random_seed(7)
model = tf.keras.Sequential([
    tf.keras.Input((L, 4), name="x"),
    tf.keras.layers.Conv1D(8, 5, padding="same", activation="relu", use_bias=False),
    tf.keras.layers.MaxPool1D(2),
    tf.keras.layers.Conv1D(8, 3, padding="same", activation="relu", use_bias=False),
    tf.keras.layers.GlobalAveragePooling1D(),
    tf.keras.layers.Dense(2, use_bias=False),
])
x = np.eye(4, dtype=np.float32)[np.random.default_rng(7).integers(0, 4, (6, L))]
xt = tf.constant(x)
with tf.GradientTape() as tape:
    tape.watch(xt)
    logits = model(xt)
    target = logits[:, 1]
grad = tape.gradient(target, xt).numpy()
np.savez(os.path.join(HERE, "keras_cnn.npz"), x=x, logits=logits.numpy(), grad_x_input=grad * x)
signature = (tf.TensorSpec((None, L, 4), tf.float32, name="x"),)
forward = tf.function(lambda inputs: model(inputs), input_signature=signature)  # from_keras lacks Keras 3
for opset in (13, 18):
    tf2onnx.convert.from_function(forward, input_signature=signature, opset=opset,
                                  output_path=os.path.join(HERE, f"keras_cnn.opset{opset}.onnx"))
print("written to", HERE)
