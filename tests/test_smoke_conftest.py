def test_reference_scores_full(grade_source):
    r = grade_source("def add(a, b):\n    return a + b\n")
    assert r.verdict == "graded" and r.score == r.max_score == 3
