"""The sample students of the mlp_from_scratch assignment and the scores they should get."""

from __future__ import annotations

from ds4023.sample_class.students import Edit, Expected, Student, blank_row, expected_row

#: Points of each automatically graded test cell (they sum to 100).
POINTS: dict[str, float] = {
    "forward_pass_values": 5,
    "cost_function_values": 5,
    "sigmoid_prime_values": 5,
    "cost_function_prime_values": 10,
    "numerical_gradient_values": 6,
    "gradient_check_relative_difference": 4,
    "bfgs_training_cost_falls": 5,
    "network_init_shapes": 4,
    "network_init_seeded_scaled": 4,
    "network_repr": 2,
    "network_predict_values": 5,
    "network_calculate_loss": 3,
    "network_fit_partial_update": 8,
    "network_fit_epochs": 4,
    "xor_two_two_one_learns": 7,
    "xor_without_hidden_layer_fails": 5,
    "digits_data_prepared": 6,
    "digits_test_accuracy": 12,
}
#: The written answers (5 points each, graded by a person).
WRITTEN = ("weights_plot_answer", "hidden_layer_answer")

STUDENTS: tuple[Student, ...] = (
    Student("correct", "fills in every cell with the reference solution"),
    Student("blank", "hands in the release unchanged", solved=()),
    Student(
        "delta3_sign",
        "drops the minus sign of delta3, so the gradient points downhill instead of uphill",
        edits=(
            Edit(
                "cost_function_prime",
                "delta3 = -(y - y_hat) * sigmoid_prime(z3)",
                "delta3 = (y - y_hat) * sigmoid_prime(z3)",
            ),
        ),
    ),
    Student(
        "sigmoid_prime_of_activation",
        "writes sigmoid_prime as z * (1 - z), the formula for an activation, applied to z",
        edits=(
            Edit(
                "sigmoid_prime",
                "s = sigmoid(z)\n    return s * (1.0 - s)",
                "return z * (1.0 - z)",
            ),
        ),
    ),
    Student(
        "predict_without_bias",
        "forgets to append the bias column in predict, so every call on raw inputs fails",
        edits=(
            Edit(
                "neural_network_class",
                "        if add_bias:\n            p = np.c_[p, np.ones(p.shape[0])]\n",
                "",
            ),
        ),
    ),
    Student(
        "loss_predict_without_bias",
        "copies calculate_loss from the classic code (predict with the bias switched off, "
        "addBias renamed add_bias), which expects X to carry the bias column already",
        edits=(
            Edit(
                "neural_network_class",
                "        predictions = self.predict(X)\n"
                "        return float(0.5 * np.sum((predictions - np.atleast_2d(targets)) ** 2))",
                "        targets = np.atleast_2d(targets)\n"
                "        predictions = self.predict(X, add_bias=False)\n"
                "        loss = 0.5 * np.sum((predictions - targets) ** 2)\n"
                "        return loss",
            ),
        ),
    ),
)


def _row(**changes: tuple[float | None, str]) -> Expected:
    """This assignment's :func:`expected_row`: full points except ``changes``."""
    return expected_row(POINTS, WRITTEN, **changes)


_NO_PREDICT = "calls predict on inputs without bias column: shape mismatch in the first product"
#: What fails after calculate_loss fails: fit records the loss, and XOR and the digits use fit.
_LOSS_FAILS = dict(
    network_fit_epochs=(0.0, "fit records the loss through calculate_loss, which fails"),
    xor_two_two_one_learns=(0.0, "fit fails at the first loss: xor_steps is undefined"),
    xor_without_hidden_layer_fails=(0.0, "fit fails at the first loss: linear_steps is undefined"),
    digits_test_accuracy=(0.0, "the digits training cell fails: test_predictions is undefined"),
)

#: student -> grade_id -> (expected auto score, or None when a person must grade it; reason)
EXPECTED_SCORES: dict[str, dict[str, tuple[float | None, str]]] = {
    "correct": _row(),
    "blank": blank_row(
        POINTS,
        WRITTEN,
        xor_two_two_one_learns=(0.0, "the XOR cell is a stub: nn_xor is undefined"),
        xor_without_hidden_layer_fails=(0.0, "the XOR cell is a stub: nn_linear is undefined"),
        digits_test_accuracy=(0.0, "the training cell is a stub: nn_digits is undefined"),
    ),
    "delta3_sign": _row(
        cost_function_prime_values=(0.0, "both gradients have the wrong sign: descent check fails"),
        gradient_check_relative_difference=(
            0.0,
            "analytical = -numerical: the relative difference is huge",
        ),
        bfgs_training_cost_falls=(
            0.0,
            "the first line search fails: 0 iterations, cost stays 0.116",
        ),
        numerical_gradient_values=(6.0, "the numerical gradient only uses the (correct) cost"),
    ),
    "sigmoid_prime_of_activation": _row(
        sigmoid_prime_values=(0.0, "gives 0 at z = 0 instead of 0.25"),
        cost_function_prime_values=(0.0, "backprop multiplies by the wrong derivative"),
        gradient_check_relative_difference=(0.0, "analytical and numerical gradients disagree"),
        bfgs_training_cost_falls=(0.0, "BFGS stops after one iteration at cost 0.0155, far from 0"),
        network_fit_partial_update=(8.0, "the class has its own sigmoid_deriv of the activation"),
    ),
    "predict_without_bias": _row(
        network_predict_values=(0.0, _NO_PREDICT),
        network_calculate_loss=(0.0, "calculate_loss calls predict: " + _NO_PREDICT),
        network_fit_partial_update=(
            8.0,
            "fit_partial never calls predict (visible check passes "
            "add_bias=False with the bias already in)",
        ),
        **_LOSS_FAILS,
    ),
    "loss_predict_without_bias": _row(
        network_calculate_loss=(0.0, "X without bias column meets W[0]: shape mismatch, diagnosed"),
        **_LOSS_FAILS,
    ),
}
