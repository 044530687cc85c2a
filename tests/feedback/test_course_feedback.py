"""The feedback page's part names: one per cell, numbered where a part spans several cells."""

from ds4023.feedback.course_feedback import distinct_labels


def test_a_part_alone_keeps_its_name():
    assert distinct_labels({"a": "1. sigmoid", "b": "2. cost"}) == {
        "a": "1. sigmoid",
        "b": "2. cost",
    }


def test_cells_of_one_part_are_numbered_in_order():
    labels = {"t1": "1. network", "w1": "written", "t2": "1. network", "w2": "written"}
    assert distinct_labels(labels) == {
        "t1": "1. network (1 of 2)",
        "t2": "1. network (2 of 2)",
        "w1": "written (1 of 2)",
        "w2": "written (2 of 2)",
    }
