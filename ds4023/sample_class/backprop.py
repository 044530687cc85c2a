"""The sample students of the backprop assignment and the scores the grader should give them."""

from __future__ import annotations

from ds4023.sample_class.students import (
    STUB,
    UNTOUCHED,
    Edit,
    Expected,
    Student,
    blank_row,
    expected_row,
)

#: Points of each automatically graded test cell (gradient checking is the optional +20).
POINTS: dict[str, float] = {
    "plot_image_draws_digit": 5,
    "onehot_encoding": 5,
    "network_sizes": 2,
    "sigmoid_values": 3,
    "forward_propagate_values": 10,
    "cost_reference_value": 10,
    "cost_reg_reference_value": 10,
    "sigmoid_gradient_values": 5,
    "backprop_matches_reference": 25,
    "gradient_checking_small_network": 20,
    "backprop_reg_matches_reference": 15,
    "training_accuracy": 10,
}
#: The written answers (5 points each, graded by a person).
WRITTEN = ("answer_image_orientation", "answer_cost_differs", "answer_gradient_checking_slow")

_FIRST_PARTS = (
    "plot_image_code",
    "onehot_code",
    "network_sizes_code",
    "sigmoid_code",
    "forward_propagate_code",
    "cost_code",
    "answer_image_orientation",
)

STUDENTS: tuple[Student, ...] = (
    Student("correct", "fills in every cell with the reference solution"),
    Student("blank", "hands in the release unchanged", solved=()),
    Student("partial", "does section 1 and 2.1-2.3 (up to cost), nothing after", _FIRST_PARTS),
    Student(
        "no_bias_column",
        "forgets the input layer's bias column and drops theta1's bias weights to make it fit",
        edits=(
            Edit(
                "forward_propagate_code",
                "a1 = np.hstack([np.ones((m, 1)), X])\n    z2 = a1 @ theta1.T",
                "a1 = X\n    z2 = a1 @ theta1[:, 1:].T",
            ),
        ),
    ),
    Student(
        "bias_regularized",
        "regularizes the bias weights in cost_regularized",
        edits=(
            Edit(
                "cost_regularized_code",
                "np.sum(theta1[:, 1:] ** 2) + np.sum(theta2[:, 1:] ** 2)",
                "np.sum(theta1**2) + np.sum(theta2**2)",
            ),
        ),
    ),
    Student(
        "onehot_wrong_order",
        "one-hot encodes label k in column k mod 10 (the digit 0 first)",
        edits=(
            Edit(
                "onehot_code",
                "y_onehot = encoder.fit_transform(y)",
                "y_onehot = np.eye(10)[y.ravel() % 10]  # column = digit",
            ),
        ),
    ),
    Student(
        "cost_not_divided_by_m",
        "sums the cost over the examples without dividing by m",
        edits=(Edit("cost_code", "np.logaddexp(0, z3)) / m", "np.logaddexp(0, z3))"),),
    ),
    Student(
        "untransposed_images",
        "comments out the cell that transposes the images",
        edits=(
            Edit(
                "transpose-images",
                "X = np.array([image.reshape(20, 20).T.ravel() for image in X])",
                "# X = np.array([image.reshape(20, 20).T.ravel() for image in X])",
            ),
        ),
    ),
    Student(
        "sigmoid_gradient_of_activation",
        "applies sigmoid_gradient to the hidden activations a2 instead of z2",
        edits=(Edit("backprop_code", "sigmoid_gradient(z2)", "sigmoid_gradient(a2[:, 1:])"),),
    ),
    Student(
        "gradient_not_divided_by_m",
        "forgets step 5's division by m",
        edits=(
            Edit(
                "backprop_code",
                "np.concatenate([(delta1 / m).ravel(), (delta2 / m).ravel()])",
                "np.concatenate([delta1.ravel(), delta2.ravel()])",
            ),
        ),
    ),
    Student(
        "bias_gradient_regularized",
        "adds the regularization to the bias weights' gradient too",
        edits=(
            Edit(
                "backprop_reg_code",
                "    penalty1[:, 0] = 0  # the bias weights are not regularized\n"
                "    penalty2[:, 0] = 0\n",
                "",
            ),
        ),
    ),
    Student(
        "cost_sum_wrong_axis",
        "sums the cost over the examples only (axis=0): one number per label instead of one",
        edits=(Edit("cost_code", "np.logaddexp(0, z3)) / m", "np.logaddexp(0, z3), axis=0) / m"),),
    ),
    Student(
        "gradient_transposed",
        "unrolls the gradient matrices column by column: every entry lands on another weight",
        edits=(
            Edit(
                "backprop_code",
                "np.concatenate([(delta1 / m).ravel(), (delta2 / m).ravel()])",
                "np.concatenate([(delta1 / m).T.ravel(), (delta2 / m).T.ravel()])",
            ),
        ),
    ),
    Student(
        "penalty_scale",
        "regularizes the cost with lambda / m instead of lambda / (2m)",
        edits=(Edit("cost_regularized_code", "reg_lambda / (2 * m)", "reg_lambda / m"),),
    ),
    Student(
        "gradient_as_tuple",
        "returns the two gradient matrices as a tuple instead of one unrolled vector",
        edits=(
            Edit(
                "backprop_code",
                "np.concatenate([(delta1 / m).ravel(), (delta2 / m).ravel()])",
                "(delta1 / m, delta2 / m)",
            ),
        ),
    ),
    Student(
        "first_example_only",
        "leaves a debugging range(1) in the loop: only the first example is visited",
        edits=(Edit("backprop_code", "for t in range(m):", "for t in range(1):"),),
    ),
)


#: student -> the mistake the visible checks must name for them (a key of
#: ``backprop_checks.MESSAGES`` in source/backprop/), or None: nothing may be named.
DIAGNOSES: dict[str, str | None] = {
    "correct": None,
    "blank": None,
    "partial": None,
    "no_bias_column": "no_bias_column",
    "bias_regularized": "bias_regularized",
    "onehot_wrong_order": "onehot_order",
    "cost_not_divided_by_m": "cost_not_divided_by_m",
    "untransposed_images": "untransposed_images",
    "sigmoid_gradient_of_activation": "sigmoid_gradient_of_activation",
    "gradient_not_divided_by_m": "gradient_not_divided_by_m",
    "bias_gradient_regularized": "bias_gradient_regularized",
    "cost_sum_wrong_axis": "cost_wrong_axis",
    "gradient_transposed": "gradient_transposed",
    "first_example_only": "first_example_only",
    "penalty_scale": "penalty_scale",
    "gradient_as_tuple": "gradient_as_tuple",
}


def _row(**changes: tuple[float | None, str]) -> Expected:
    """This assignment's :func:`expected_row`: full points except ``changes``."""
    return expected_row(POINTS, WRITTEN, **changes)


_SEPARATE = "tested with stand-in backprop functions, so independent of the student's backprop"
#: Partial credit: the hidden tests give half a part's points when it is right apart from one
#: known mistake (its own, the notebook's data, or the function it builds on).
_HALF = "half: "

#: student -> grade_id -> (expected auto score, or None when a person must grade it; reason)
EXPECTED_SCORES: dict[str, dict[str, tuple[float | None, str]]] = {
    "correct": _row(),
    "blank": blank_row(
        POINTS,
        WRITTEN,
        training_accuracy=(0.0, "backprop raises, so minimize fails and fmin is undefined"),
    ),
    "partial": _row(
        cost_reg_reference_value=(0.0, STUB),
        sigmoid_gradient_values=(0.0, STUB),
        backprop_matches_reference=(0.0, STUB),
        gradient_checking_small_network=(0.0, STUB),
        backprop_reg_matches_reference=(0.0, STUB),
        training_accuracy=(0.0, "backprop is a stub: training fails, y_pred is a stub"),
        answer_cost_differs=(0.0, UNTOUCHED),
        answer_gradient_checking_slow=(0.0, UNTOUCHED),
    ),
    "no_bias_column": _row(
        forward_propagate_values=(0.0, "a1 has 400 columns: the check names the missing bias"),
        cost_reference_value=(5.0, _HALF + "cost is right on top of the student's forward pass"),
        cost_reg_reference_value=(5.0, _HALF + "the penalty is right on top of the wrong cost"),
        backprop_matches_reference=(0.0, "a1[t] has 400 entries: the rank-one update fails"),
        gradient_checking_small_network=(20.0, _SEPARATE),
        backprop_reg_matches_reference=(0.0, "calls the failing backprop"),
        training_accuracy=(0.0, "minimize calls the failing backprop: fmin is undefined"),
    ),
    "bias_regularized": _row(
        cost_reg_reference_value=(5.0, _HALF + "known mistake: the bias weights are penalised"),
        backprop_reg_matches_reference=(15.0, "backprop_reg computes its own penalty (right)"),
    ),
    "onehot_wrong_order": _row(
        onehot_encoding=(0.0, "label 10 lands in column 0: no partial credit for the encoding"),
        cost_reference_value=(5.0, _HALF + "cost is right, the notebook's y_onehot is not"),
        cost_reg_reference_value=(5.0, _HALF + "cost_regularized is right, y_onehot is not"),
        backprop_matches_reference=(25.0, "checked on its own inputs: backprop is right"),
        backprop_reg_matches_reference=(15.0, "checked on its own inputs: backprop_reg is right"),
        training_accuracy=(0.0, "trained on shifted labels, argmax + 1 is off by one digit"),
    ),
    "cost_not_divided_by_m": _row(
        cost_reference_value=(5.0, _HALF + "known mistake: m times the reference on every input"),
        cost_reg_reference_value=(5.0, _HALF + "the penalty is right on top of the wrong cost"),
        backprop_matches_reference=(25.0, "backprop computes its own, averaged cost"),
    ),
    "untransposed_images": _row(
        cost_reference_value=(5.0, _HALF + "cost is right, the notebook's X is untransposed"),
        cost_reg_reference_value=(5.0, _HALF + "cost_regularized is right, X is untransposed"),
        plot_image_draws_digit=(5.0, "plot_image draws whatever it is given, checked as such"),
        training_accuracy=(10.0, "judged on the images in the orientation it was trained on"),
    ),
    "sigmoid_gradient_of_activation": _row(
        backprop_matches_reference=(0.0, "a wrong gradient is no known bookkeeping slip: 0"),
        gradient_checking_small_network=(20.0, _SEPARATE),
        backprop_reg_matches_reference=(7.5, _HALF + "the penalty is right on the wrong backprop"),
        training_accuracy=(0.0, "the wrong slope misleads TNC: about 75 % accuracy, below 95 %"),
    ),
    "gradient_not_divided_by_m": _row(
        backprop_matches_reference=(12.5, _HALF + "known mistake: m times the reference gradient"),
        gradient_checking_small_network=(20.0, _SEPARATE),
        backprop_reg_matches_reference=(7.5, _HALF + "the penalty is right on the wrong backprop"),
        training_accuracy=(10.0, "right direction, only scaled: TNC still reaches about 99 %"),
    ),
    "bias_gradient_regularized": _row(
        backprop_reg_matches_reference=(7.5, _HALF + "known mistake: bias gradients penalised"),
        training_accuracy=(10.0, "training uses the unregularized backprop (right)"),
    ),
    "cost_sum_wrong_axis": _row(
        cost_reference_value=(5.0, _HALF + "known mistake: 10 numbers that sum to the reference"),
        cost_reg_reference_value=(5.0, _HALF + "the penalty is right on top of the wrong cost"),
        backprop_matches_reference=(25.0, "backprop computes its own cost (right)"),
    ),
    "gradient_transposed": _row(
        backprop_matches_reference=(12.5, _HALF + "known mistake: right entries, transposed order"),
        gradient_checking_small_network=(20.0, _SEPARATE),
        backprop_reg_matches_reference=(7.5, _HALF + "the penalty is right on the wrong backprop"),
        training_accuracy=(0.0, "the scrambled gradient stalls TNC: 10 % accuracy"),
    ),
    "penalty_scale": _row(
        cost_reg_reference_value=(5.0, _HALF + "known mistake: the penalty is twice too large"),
        backprop_reg_matches_reference=(15.0, "backprop_reg computes its own penalty (right)"),
    ),
    "gradient_as_tuple": _row(
        backprop_matches_reference=(12.5, _HALF + "known slip: the two matrices, not unrolled"),
        backprop_reg_matches_reference=(0.0, "adding the penalty vector to a tuple fails"),
        training_accuracy=(0.0, "minimize cannot use a tuple as the gradient: fmin is undefined"),
    ),
    "first_example_only": _row(
        backprop_matches_reference=(0.0, "one example's share is no known bookkeeping slip: 0"),
        gradient_checking_small_network=(20.0, _SEPARATE),
        backprop_reg_matches_reference=(7.5, _HALF + "the penalty is right on the wrong backprop"),
        training_accuracy=(0.0, "TNC's line search fails at once: 10 % accuracy"),
    ),
}
