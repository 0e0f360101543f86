"""Overrides from spec.metrics: every selector confined to the deployment's namespace."""

from __future__ import annotations

import re

import pytest

from modelscaler.metrics.overrides import OverrideError, render_override

MINE = 'namespace="team-a"'


def confined(template: str, **kwargs: float) -> str:
    return render_override(template, "team-a", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("my_queue", f"(my_queue{{{MINE}}})"),
        ('my_queue{job="gw"}', f'(my_queue{{{MINE},job="gw"}})'),
        ("my_queue{}", f"(my_queue{{{MINE}}})"),
        ('{__name__="x"}', f'({{{MINE},__name__="x"}})'),
        (
            "sum by (namespace, modeldeployment) (rate(reqs_total[$window]))",
            f"(sum by (namespace, modeldeployment) (rate(reqs_total{{{MINE}}}[60s])))",
        ),
        (
            "sum without (pod) (a) / on (namespace) group_left (x) b",
            f"(sum without (pod) (a{{{MINE}}}) / on (namespace) group_left (x) b{{{MINE}}})",
        ),
        ("max_over_time(q[$window:5s] offset 1m)", f"(max_over_time(q{{{MINE}}}[60s:5s] offset 1m))"),
        (
            'label_replace(gw_queue, "modeldeployment", "$1", "route", "(.*)")',
            f'(label_replace(gw_queue{{{MINE}}}, "modeldeployment", "$1", "route", "(.*)"))',
        ),
        (
            "histogram_quantile($quantile, rate(h_bucket[1m]))",
            f"(histogram_quantile(0.95, rate(h_bucket{{{MINE}}}[1m])))",
        ),
        ("a and b or c unless d", f"(a{{{MINE}}} and b{{{MINE}}} or c{{{MINE}}} unless d{{{MINE}}})"),
        ("x > bool 2 * Inf", f"(x{{{MINE}}} > bool 2 * Inf)"),
        ("job:requests:rate5m", f"(job:requests:rate5m{{{MINE}}})"),
    ],
)
def test_every_selector_gets_the_namespace_matcher(template: str, expected: str) -> None:
    assert confined(template, window=60, quantile=0.95) == expected


# What a spec author might try to read another namespace's series or break out of the wrapper.
INJECTIONS = [
    '"} or vector(1) #',
    'x"} or vector(1) #',
    'x{namespace="team-b"}',
    'x{namespace=~".*"}',
    '{__name__=~".+"}',
    'label_replace(secret{namespace="team-b"}, "namespace", "team-a", "", "")',
    "x) or (y",
    "x)) or on() vector(1",
    "x # comment",
    "x\n# comment",
    'x{job="a}"}',
    "x{a=~`.*`}",
    'x{a="b\\"}"}',
    "sum(x}",
    "x[5m",
    "x{a=(b)}",
    "rate(x[secret{namespace='team-b'}])",
    "sum by (namespace, x{}) (y)",
    "$namespace",
    "x;y",
    "x\\",
    "'unterminated",
    "",
]


def _selectors_outside_strings(text: str) -> list[str]:
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', text)
    return re.findall(r"\{[^}]*\}", without_strings)


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_corpus_is_refused_or_confined(template: str) -> None:
    try:
        text = confined(template, window=60)
    except OverrideError:
        return
    # Whatever survived is wrapped whole and every selector reads only team-a.
    assert text.startswith("(")
    assert text.endswith(")")
    assert "#" not in re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    selectors = _selectors_outside_strings(text)
    assert selectors, text
    for selector in selectors:
        assert selector.startswith('{namespace=""'), (template, text)  # strings blanked above
    # The injected matcher itself is exactly the deployment's namespace.
    assert text.count(MINE) == len(selectors)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("x # c", "comments"),
        ("x) or (y", "unbalanced"),
        ("sum(x", "missing"),
        ("x{a=(b)}", "inside label matchers"),
        ("rate(x[y])", "inside a range"),
        ("sum by (a{}) (x)", "inside a label list"),
        ("$namespace", "unknown placeholder"),
        ("rate(x[$window])", "no value"),
        ("x;y", "unexpected character"),
        ("   ", "empty"),
        ("x" * 5000, "longer than"),
    ],
)
def test_refusals_say_why(template: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        render_override(template, "team-a")


def test_namespace_value_is_escaped() -> None:
    text = render_override("x", 'a"b\\c\n')
    assert text == r'(x{namespace="a\"b\\c\n"})'


def test_custom_namespace_label() -> None:
    assert render_override("x", "a", namespace_label="kube_ns") == '(x{kube_ns="a"})'
