"""The MLP written by hand in NumPy: forward pass, softmax cross-entropy, backward pass, SGD update.

``NumpyMLP`` does all of its maths in NumPy: no autograd, no torch. It starts from the weights
of a freshly built PyTorch ``MLP``, so with the same seed both start identical.
"""

import numpy as np

from src.networks.mlp import MLP


class NumpyMLP:
    """Linear/ReLU layers with softmax cross-entropy, forward and backward in NumPy."""

    def __init__(self, input_dim: int, hidden_units, num_classes: int, dtype: str = "float32"):
        reference = MLP(input_dim, hidden_units, num_classes)  # the initial weights, and arg checks
        self.hidden_units = reference.hidden_units
        self.weights = [layer.weight.detach().numpy().T.astype(dtype).copy() for layer in reference.linears()]
        self.biases = [layer.bias.detach().numpy().astype(dtype).copy() for layer in reference.linears()]

    def parameters(self) -> list[np.ndarray]:
        return [p for pair in zip(self.weights, self.biases) for p in pair]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits, and every layer's input (kept for the backward pass)."""
        inputs = [x.reshape(len(x), -1).astype(self.weights[0].dtype, copy=False)]
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            inputs.append(np.maximum(inputs[-1] @ w + b, 0))
        return inputs[-1] @ self.weights[-1] + self.biases[-1], inputs

    @staticmethod
    def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean softmax cross-entropy and its gradient with respect to the logits."""
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        grad = np.exp(log_probs)
        grad[rows, y] -= 1
        return float(-log_probs[rows, y].mean()), grad / len(y)

    def backward(self, grad_logits: np.ndarray, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Gradients of the loss, in the order of ``parameters()``."""
        grads: list[np.ndarray] = []
        grad = grad_logits
        for layer in reversed(range(len(self.weights))):
            grads[:0] = [inputs[layer].T @ grad, grad.sum(axis=0)]
            if layer:
                grad = (grad @ self.weights[layer].T) * (inputs[layer] > 0)
        return grads

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, list[np.ndarray]]:
        logits, inputs = self.forward(x)
        loss, grad_logits = self.cross_entropy(logits, y)
        return loss, logits, self.backward(grad_logits, inputs)

    def sgd_step(self, grads: list[np.ndarray], lr: float) -> None:
        for parameter, grad in zip(self.parameters(), grads):
            parameter -= lr * grad
