"""Tests for mlp_from_scratch_checks.py (source/): each known mistake is named, only that one.

The sample class's notebooks run in-process (``notebook_cells``) up to part 3 (XOR and the
digits only train), so the visible test cells print what a student would see. Further mistakes
and correct solutions written differently are text edits of the source notebook's solution.
"""

from __future__ import annotations

import numpy as np
import pytest

from ds4023.checks_core import fingerprint as fp
from ds4023.sample_class.students import Edit, load_table
from tests.helpers.notebook_cells import (
    fingerprint_problems,
    run_variant,
)
from tests.notebooks.shared_checks_tests import (  # noqa: F401  (collected here too)
    test_correct_student_passes_every_check,
    test_each_sample_mistake_is_named_once_in_a_one_line_error,
    test_further_mistakes_are_named_mistakes,
    test_module_and_messages_hold_no_solution_or_hidden_test_code,
    test_other_correct_solutions_pass_without_a_message,
)

ASSIGNMENT = "mlp_from_scratch"
TEST_CELLS = (
    "forward_pass_values",
    "cost_function_values",
    "sigmoid_prime_values",
    "cost_function_prime_values",
    "numerical_gradient_values",
    "gradient_check_relative_difference",
    "bfgs_training_cost_falls",
    "network_init_shapes",
    "network_init_seeded_scaled",
    "network_repr",
    "network_predict_values",
    "network_calculate_loss",
    "network_fit_partial_update",
    "network_fit_epochs",
)
#: student -> the mistake the visible checks must name (None: nothing may be named). A new
#: sample student needs a line here.
DIAGNOSES: dict[str, str | None] = {
    "correct": None,
    "blank": None,
    "delta3_sign": "delta3_sign",
    "sigmoid_prime_of_activation": "sigmoid_prime_of_activation",
    "predict_without_bias": "predict_without_bias",
    "loss_predict_without_bias": "loss_predict_without_bias",
}


def _fingerprints(run) -> dict[str, np.ndarray]:
    """Fingerprints of a student's code on the checks' small problems."""
    ns, checks = run.namespace, run.checks
    X, y, W1, W2 = checks.small_problem()
    found = {}
    out = ns["forward"](X.copy(), W1.copy(), W2.copy())
    for name, value in zip(("z2", "a2", "z3", "y_hat"), out, strict=True):
        found[f"forward_{name}"] = fp(value)
    found["cost"] = fp(ns["cost_function"](X, y, W1, W2))
    found["sigmoid_prime"] = fp(ns["sigmoid_prime"](np.linspace(-4.5, 4.5, 10)))
    grads = ns["cost_function_prime"](X, y, W1, W2)
    found["grad_W1"], found["grad_W2"] = fp(grads[0]), fp(grads[1])
    found["numerical"] = fp(ns["compute_numerical_gradient"](X, y, W1.copy(), W2.copy(), 1e-4))
    u = np.cos(np.arange(1.0, 8.0))
    found["relative_difference"] = fp(
        ns["relative_difference"](u, u + 0.3 * np.sin(np.arange(2.0, 9.0)))
    )
    net = ns["NeuralNetwork"](list(checks.LAYERS), alpha=checks.ALPHA, seed=checks.SEED)
    found["init_W0"], found["init_W1"] = fp(net.W[0]), fp(net.W[1])
    Xn, T = checks.small_network_data()
    net.W = [w.copy() for w in checks.small_network_weights()]
    found["predict"] = fp(net.predict(Xn.copy()))
    found["loss"] = fp(net.calculate_loss(Xn.copy(), T.copy()))
    net.fit_partial(np.r_[Xn[0], 1.0], T[0].copy())
    found["step_W0"], found["step_W1"] = fp(net.W[0]), fp(net.W[1])
    net.W = [w.copy() for w in checks.small_network_weights()]
    found["fit_losses"] = fp(net.fit(Xn.copy(), T.copy(), 5, 2))
    found["fit_W0"] = fp(net.W[0])
    return found


BACKPROP_OF_ACTIVATION = (
    Edit("cost_function_prime", "sigmoid_prime(z3)", "sigmoid_prime(y_hat)"),
    Edit("cost_function_prime", "sigmoid_prime(z2)", "sigmoid_prime(a2)"),
)
ONE_SIDED = (
    Edit(
        "numerical_gradient",
        "cost_down = cost_function(X, y, *set_params(params - nudge, *sizes))",
        "cost_down = cost_function(X, y, *set_params(params, *sizes))",
    ),
    Edit(
        "numerical_gradient",
        "(cost_up - cost_down) / (2 * epsilon)",
        "(cost_up - cost_down) / epsilon",
    ),
)


def test_stored_fingerprints_are_those_of_the_solution_and_the_mistakes(class_runs, folder, checks):
    """Are the module's fingerprints what the source's solution and the known mistakes give?"""
    found = _fingerprints(class_runs["correct"])
    wrong_slope = _fingerprints(
        run_variant(ASSIGNMENT, folder, "of_activation", *BACKPROP_OF_ACTIVATION)
    )
    found["grad_W1_of_activation"] = wrong_slope["grad_W1"]
    found["grad_W2_of_activation"] = wrong_slope["grad_W2"]
    found["numerical_one_sided"] = _fingerprints(
        run_variant(ASSIGNMENT, folder, "one_sided", *ONE_SIDED)
    )["numerical"]
    assert fingerprint_problems(found, checks.FINGERPRINTS) == []


def test_blank_notebook_names_each_unwritten_function_in_one_line(class_runs):
    """Does a test cell whose function is still the release's stub say so in one line?"""
    run = class_runs["blank"]
    errors = {c: run.cells[c].error for c in TEST_CELLS if run.cells[c].error}
    assert errors["forward_pass_values"] == (
        "forward is not written yet: replace `raise NotImplementedError()` with your code."
    )
    unwritten = [e for e in errors.values() if "is not written yet" in e]
    assert len(unwritten) >= 5 and all(len(e.splitlines()) == 1 for e in unwritten)
    assert {c: run.cells[c].stdout for c in TEST_CELLS if run.cells[c].stdout} == {}


#: What the visible check says, in one line, about a calculate_loss copied from the classic code.
CLASSIC_LOSS_MESSAGE = (
    "calculate_loss gets X without the bias column (as fit passes it), so predict must append "
    "it: call predict with its default add_bias=True, not with add_bias=False (addBias=False in "
    "the classic code, whose fit appends the column first)."
)


def classic_loss(keyword: str) -> Edit:
    """calculate_loss as in the seed material's classic class (``../shared/seeds/``), with
    predict's keyword spelled ``keyword`` (``addBias`` there, ``add_bias`` in the notebook)."""
    return Edit(
        "neural_network_class",
        "        predictions = self.predict(X)\n"
        "        return float(0.5 * np.sum((predictions - np.atleast_2d(targets)) ** 2))",
        "        targets = np.atleast_2d(targets)\n"
        f"        predictions = self.predict(X, {keyword}=False)\n"
        "        loss = 0.5 * np.sum((predictions - targets) ** 2)\n"
        "        return loss",
    )


@pytest.mark.parametrize("keyword", ["add_bias", "addBias"])
def test_calculate_loss_copied_from_the_classic_code_says_what_to_change(
    class_runs, folder, keyword
):
    """Does a calculate_loss copied from the classic code (a ValueError with the notebook's
    keyword, a TypeError with the classic one) get one line saying what is wrong and what to
    change, in its own cell and in fit's, instead of an error from inside the checks?"""
    if keyword == "add_bias":  # the sample student
        run = class_runs["loss_predict_without_bias"]
        students = {s.name: s for s in load_table(ASSIGNMENT).STUDENTS}
        assert students["loss_predict_without_bias"].edits == (classic_loss(keyword),)
    else:
        run = run_variant(ASSIGNMENT, folder, "classic_loss", classic_loss(keyword))
    loss, fit = run.cells["network_calculate_loss"], run.cells["network_fit_epochs"]
    assert (loss.error, loss.stdout, loss.stderr) == (CLASSIC_LOSS_MESSAGE, "", "")
    blamed = "fit relies on calculate_loss, and calculate_loss has a problem: "
    assert fit.error == blamed + CLASSIC_LOSS_MESSAGE
    assert run.checks.MESSAGES["loss_predict_without_bias"] == CLASSIC_LOSS_MESSAGE
    failing = {c for c in TEST_CELLS if run.cells[c].error}
    assert failing == {"network_calculate_loss", "network_fit_epochs"}


#: Further mistakes (not in the sample class): the visible test that names it, and the edits.
MORE_MISTAKES = {
    "z3_from_z2": ("forward_pass_values", Edit("forward", "z3 = a2 @ W2", "z3 = z2 @ W2")),
    "output_not_squashed": (
        "forward_pass_values",
        Edit("forward", "y_hat = sigmoid(z3)", "y_hat = z3"),
    ),
    "forward_transposed": (
        "forward_pass_values",
        Edit("forward", "z2 = X @ W1", "z2 = W1.T @ X.T"),
        Edit("forward", "z3 = a2 @ W2", "z3 = W2.T @ a2"),
    ),
    "cost_missing_half": (
        "cost_function_values",
        Edit("cost_function", "float(0.5 * np.sum(", "float(np.sum("),
    ),
    "cost_mean": (
        "cost_function_values",
        Edit("cost_function", "np.sum((y - y_hat) ** 2)", "np.mean(np.sum((y - y_hat) ** 2, 1))"),
    ),
    "cost_not_a_float": (
        "cost_function_values",
        Edit(
            "cost_function",
            "float(0.5 * np.sum((y - y_hat) ** 2))",
            "0.5 * np.sum((y - y_hat) ** 2, axis=0)",
        ),
    ),
    "prime_of_activation_in_backprop": ("cost_function_prime_values", *BACKPROP_OF_ACTIVATION),
    "gradient_shapes_transposed": (
        "cost_function_prime_values",
        Edit("cost_function_prime", "dJdW2 = a2.T @ delta3", "dJdW2 = delta3.T @ a2"),
        Edit("cost_function_prime", "dJdW1 = X.T @ delta2", "dJdW1 = delta2.T @ X"),
    ),
    "one_sided_difference": ("numerical_gradient_values", *ONE_SIDED),
    "numerical_not_halved": ("numerical_gradient_values", ONE_SIDED[1]),
    "relative_difference_unnormalised": (
        "gradient_check_relative_difference",
        Edit(
            "numerical_gradient",
            "np.linalg.norm(numerical - analytical) / np.linalg.norm(numerical + analytical)",
            "np.linalg.norm(numerical - analytical)",
        ),
    ),
    "no_bias_trick": (
        "network_init_shapes",
        Edit(
            "neural_network_class",
            "(self.layers[i] + 1, self.layers[i + 1] + 1)",
            "(self.layers[i], self.layers[i + 1])",
        ),
        Edit(
            "neural_network_class",
            "(self.layers[-2] + 1, self.layers[-1])",
            "(self.layers[-2], self.layers[-1])",
        ),
    ),
    "bias_in_output_layer": (
        "network_init_shapes",
        Edit(
            "neural_network_class",
            "(self.layers[-2] + 1, self.layers[-1])",
            "(self.layers[-2] + 1, self.layers[-1] + 1)",
        ),
    ),
    "unscaled_init": (
        "network_init_seeded_scaled",
        Edit("neural_network_class", "w / np.sqrt(self.layers[i])", "w"),
        Edit("neural_network_class", "w / np.sqrt(self.layers[-2])", "w"),
    ),
    "loss_missing_half": (
        "network_calculate_loss",
        Edit(
            "neural_network_class",
            "float(0.5 * np.sum((predictions",
            "float(np.sum((predictions",
        ),
    ),
    "sgd_sign": (
        "network_fit_partial_update",
        Edit("neural_network_class", "self.W[layer] -= self.alpha", "self.W[layer] += self.alpha"),
    ),
    "losses_at_wrong_epochs": (
        "network_fit_epochs",
        Edit(
            "neural_network_class",
            "epoch == 0 or (epoch + 1) % display_update == 0",
            "epoch % display_update == 0",
        ),
    ),
}


#: Correct solutions written differently from the source's (none may get a message).
OTHER_CORRECT = {
    "cost with a mean times m": Edit(
        "cost_function",
        "float(0.5 * np.sum((y - y_hat) ** 2))",
        "0.5 * float(((y - y_hat) ** 2).sum())",
    ),
    "sigmoid_prime from exp": Edit(
        "sigmoid_prime",
        "s = sigmoid(z)\n    return s * (1.0 - s)",
        "return np.exp(-z) / (1.0 + np.exp(-z)) ** 2",
    ),
    "predict with np.hstack": Edit(
        "neural_network_class",
        "p = np.c_[p, np.ones(p.shape[0])]",
        "p = np.hstack([p, np.ones((p.shape[0], 1))])",
    ),
}
