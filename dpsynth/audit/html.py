"""The audit report as one self-contained HTML page, for a data-protection reviewer.

:func:`render_html` turns the JSON-ready report (format ``dpsynth-audit-report``,
version 1) into a page with inline CSS and charts drawn here as inline SVG: no
JavaScript and no external resource, so the file can be archived or mailed as it
is (a Content-Security-Policy forbids loading anything). Every string taken from
the report is escaped, and a missing or malformed section renders as "not
available" instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from dpsynth.audit._svg import (
    _PALETTE,
    _REAL,
    _SYNTHETIC,
    _bars,
    _e,
    _float,
    _floats,
    _histogram,
    _risk_chart,
    _roc_chart,
    _seq,
    _str,
)
from dpsynth.errors import ValidationError

__all__ = ["render_html"]

_NA = '<span class="na">n/a</span>'
_VERDICTS = {"pass": "Pass", "fail": "Fail", "inconclusive": "Inconclusive"}
_CRITERIA = {
    "membership": (
        "Membership inference",
        "Can an attacker tell whether a given person's record was in the data the "
        "generator was trained on?",
    ),
    "attribute": (
        "Attribute inference",
        "Can an attacker who knows some of a person's attributes use the synthetic "
        "table to infer a hidden one better than the population alone allows?",
    ),
    "singling_out": (
        "Singling out",
        "Can an attacker use the synthetic table to isolate one real person of the "
        "training data?",
    ),
    "linkability": (
        "Linkability",
        "Can an attacker use the synthetic table to link two records about the same "
        "person held in different datasets?",
    ),
}
_MAX_ONE_WAY = 12


def render_html(report: Mapping[str, Any]) -> str:
    """Renders an audit report as a self-contained HTML page.

    Sections, in order: the headline (verdict, claim, empirical epsilon), the
    verdict per GDPR criterion, the attacks (table and risk chart), ROC curves,
    per-record exposure, utility, the privacy ledger, thresholds, limitations
    and reproducibility.

    Args:
        report: the JSON-ready audit report (format ``dpsynth-audit-report``).
            Any section may be missing or None.

    Returns:
        The page, starting with ``<!DOCTYPE html>``.

    Raises:
        ValidationError: if `report` is not a mapping.

    Example:
        >>> page = render_html({"verdict": "pass", "summary": "No attack <won>."})
        >>> page.startswith("<!DOCTYPE html>"), "No attack &lt;won&gt;." in page
        (True, True)
    """
    if not isinstance(report, Mapping):
        raise ValidationError(
            f"`report` ({type(report).__name__}) must be a mapping: the audit "
            "report's JSON object."
        )
    body = [_headline(report)]
    for anchor, title, render in _SECTIONS:
        body.append(
            f'<section id="{anchor}"><h2>{title}</h2>{render(report)}</section>'
        )
    verdict = _VERDICTS.get(_str(report.get("verdict")), "not available")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>Privacy audit: {verdict}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


# ---------------------------------------------------------------- small helpers


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sci(x: float) -> str:
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}&#8239;×&#8239;10<sup>{int(exponent)}</sup>".replace("-", "−")


def _num(value: object, digits: int = 3) -> str:
    """A number for a cell: small ones in scientific notation, None as n/a."""
    if value is None:
        return _NA
    if isinstance(value, bool) or not isinstance(value, Real):
        return _e(value)
    x = float(value)
    if math.isnan(x):
        return _NA
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if x == 0:
        return "0"
    if abs(x) < 1e-3:
        return _sci(x)
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.{digits}g}"


def _fixed(value: object) -> str:
    x = _float(value)
    return _num(value) if x is None else f"{x + 0.0:.3f}"


def _risk_ci(risk: object, ci: object) -> str:
    bounds = _seq(ci)
    if len(bounds) != 2:
        return _fixed(risk)
    return f"{_fixed(risk)} [{_fixed(bounds[0])}, {_fixed(bounds[1])}]"


def _p(value: object) -> str:
    x = _float(value)
    if x is None or x == 0 or x >= 1e-3:
        return _num(value) if x is None or x == 0 else f"{x:.3f}"
    return _sci(x)


def _pct(value: object) -> str:
    x = _float(value)
    return _num(value) if x is None else f"{x:.0%}" if x >= 0.01 else f"{x:.1%}"


def _badge(verdict: object, *, extra: str = "") -> str:
    key = _str(verdict) if _str(verdict) in _VERDICTS else "unknown"
    text = _VERDICTS.get(key, "not available" if verdict is None else _e(verdict))
    return f'<span class="badge v-{key} {extra}">{text}</span>'


def _codes(names: object) -> str:
    return ", ".join(f"<code>{_e(n)}</code>" for n in _seq(names)) or _NA


def _na(what: str) -> str:
    return f'<p class="na">{what} not available in this report.</p>'


def _table(
    head: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[str] = ()
) -> str:
    """A table of pre-rendered cells; a header label starting ``#`` is numeric."""
    num = [h.startswith("#") for h in head]
    ths = "".join(
        f'<th class="num">{h[1:]}</th>' if n else f"<th>{h}</th>"
        for h, n in zip(head, num, strict=True)
    )
    trs = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        tds = "".join(
            f'<td class="num">{c}</td>' if n else f"<td>{c}</td>"
            for c, n in zip(row, num, strict=False)
        )
        trs.append(f"<tr{cls}>{tds}</tr>")
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{''.join(trs)}</tbody></table>"


def _dl(pairs: Sequence[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs)
    return f"<dl>{items}</dl>" if items else ""


def _dot(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _kpi(label: str, value: str, sub: str = "") -> str:
    sub = f'<div class="sub">{sub}</div>' if sub else ""
    return (
        f'<div class="kpi"><div class="label">{label}</div>'
        f'<div class="value">{value}</div>{sub}</div>'
    )


def _headline(report: Mapping[str, Any]) -> str:
    empirical = _map(report.get("empirical_epsilon"))
    note, manifest = empirical.get("note"), _map(report.get("claim")).get("manifest")
    nav = " · ".join(f'<a href="#{a}">{t}</a>' for a, t, _ in _SECTIONS)
    created = report.get("created")
    summary = report.get("summary")
    return (
        '<header class="head"><div class="eyebrow">'
        + _dot("dpsynth privacy audit", f"created {_e(created)}" if created else "")
        + '</div><div class="title"><h1>Privacy audit of a synthetic table</h1>'
        + _badge(report.get("verdict"), extra="big")
        + f'</div><p class="summary">{_e(summary or "No summary given.")}</p>'
        + f'<div class="kpis">{_claim_kpis(report)}</div>'
        + (f'<p class="note">{_e(note)}</p>' if note else "")
        + (
            f'<p class="note">Claim from <code>{_e(manifest)}</code>.</p>'
            if manifest
            else ""
        )
        + f"{_data_line(_map(report.get('data')))}<nav>{nav}</nav></header>"
    )


def _claim_kpis(report: Mapping[str, Any]) -> str:
    """The claimed epsilon and, beside it, the empirical lower bound."""
    claim = _map(report.get("claim"))
    empirical = _map(report.get("empirical_epsilon"))
    epsilon = claim.get("epsilon", empirical.get("claimed"))
    delta = claim.get("delta", empirical.get("delta"))
    method = claim.get("method")
    claim_sub = _dot(
        f"δ = {_num(delta)}" if delta is not None else "",
        f"method <code>{_e(method)}</code>" if method is not None else "",
    )
    if empirical.get("lower_bound") is None:
        bound, bound_sub = _NA, "no empirical bound was computed"
    else:
        bound, attack = f"≥ {_num(empirical['lower_bound'])}", empirical.get("attack")
        bound_sub = _dot(
            f"{_pct(empirical['confidence'])} confidence"
            if empirical.get("confidence") is not None
            else "",
            f"from <code>{_e(attack)}</code>" if attack is not None else "",
        )
    verdict = _badge(empirical.get("verdict")) if empirical else _NA
    meaning = {
        "pass": "the bound does not exceed the claim",
        "fail": "the bound exceeds the claim: the claim is refuted",
        "inconclusive": "the audit cannot tell",
    }.get(_str(empirical.get("verdict")), "")
    return (
        _kpi("Claimed ε", "not stated" if epsilon is None else _num(epsilon), claim_sub)
        + _kpi("Empirical ε lower bound", bound, bound_sub)
        + _kpi("Bound against claim", verdict, meaning)
    )


def _data_line(data: Mapping[str, Any]) -> str:
    parts = [
        f"{_num(data[key])} {label}"
        for key, label in (
            ("train_rows", "training rows"),
            ("holdout_rows", "holdout rows"),
            ("synthetic_rows", "synthetic rows"),
        )
        if data.get(key) is not None
    ]
    if _seq(data.get("columns")):
        parts.append(f"{len(_seq(data.get('columns')))} columns")
    return f'<p class="data">Data audited: {", ".join(parts)}.</p>' if parts else ""


def _criteria(report: Mapping[str, Any]) -> str:
    criteria = _map(report.get("criteria"))
    if not criteria:
        return _na("The verdict per criterion is")
    cards = []
    for key in list(_CRITERIA) + [k for k in criteria if k not in _CRITERIA]:
        c = _map(criteria.get(key))
        title, question = _CRITERIA.get(key, (str(key), ""))
        verdict = _str(c.get("verdict"))
        reason = c.get("reason")
        cards.append(
            f'<div class="card c-{verdict if verdict in _VERDICTS else "unknown"}">'
            f'<div class="card-head"><h3>{_e(title)}</h3>{_badge(c.get("verdict"))}'
            f'</div><p class="q">{question}</p>'
            f"<p>{_e(reason) if reason else 'No reason given.'}</p>"
            f'<p class="based">Attacks: {_codes(c.get("attacks"))}</p></div>'
        )
    return (
        "<p>Singling out, linkability and inference are the three risks by which "
        "the Article 29 Working Party (Opinion 05/2014 on anonymisation "
        "techniques) judges whether data are anonymous. Membership inference is "
        "added because it is what differential privacy bounds directly.</p>"
        f'<div class="cards">{"".join(cards)}</div>'
    )


def _attacks(report: Mapping[str, Any]) -> str:
    attacks = [_map(a) for a in _seq(report.get("attacks"))]
    if not attacks:
        return _na("Attack results are")
    thresholds = _map(report.get("thresholds"))
    conf = _pct(thresholds.get("confidence", 0.95))
    rows, classes = [], []
    for a in attacks:
        diagnostic = a.get("diagnostic") is True
        main, control = _map(a.get("main")), _map(a.get("control"))
        tag = '<br><span class="tag">diagnostic, not used for the verdict</span>'
        rows.append(
            [
                f"{_e(a.get('title') or a.get('name', ''))}<br>"
                f"<code>{_e(a.get('name'))}</code>{tag if diagnostic else ''}",
                _e(a.get("criterion", "")),
                _risk_ci(a.get("risk"), a.get("ci")),
                f"{_p(a.get('p_value'))}<br>({_p(a.get('p_adjusted'))})",
                _rate(main) + "<br>" + _rate(control),
                _num(_map(a.get("epsilon")).get("lower_bound")),
                _badge(a.get("verdict"), extra="muted" if diagnostic else ""),
            ]
        )
        classes.append("diagnostic" if diagnostic else "")
    head = [
        "Attack",
        "Criterion",
        f"#Risk [{conf} CI]",
        "#p (adjusted)",
        "#Success: main<br>control",
        "#ε lower bound",
        "Verdict",
    ]
    tolerance = _float(thresholds.get("risk_tolerance"))
    return (
        "<p>Each attack is scored on training records (main) and on control records "
        "the generator never saw. Risk is how much better it does on the former "
        "(0: no better). p is a one-sided exact test that the main rate exceeds the "
        "control rate; in brackets, adjusted for running the whole battery.</p>"
        + _table(head, rows, classes)
        + '<div class="figure">'
        + _risk_chart(attacks, tolerance)
        + f'<p class="caption">Bars: risk, coloured by verdict (grey: diagnostic, '
        f"not used for the verdict). Whiskers: {conf} confidence interval. Dashed "
        "line: the risk tolerance.</p></div>"
        + '<h3>Attack details</h3><div class="details">'
        + "".join(_attack_detail(a) for a in attacks)
        + "</div>"
    )


def _rate(counts: Mapping[str, Any]) -> str:
    if not counts:
        return _NA
    k, n = counts.get("successes"), counts.get("trials")
    return f"{_num(k)}/{_num(n)} = {_fixed(counts.get('rate'))}"


def _attack_detail(a: Mapping[str, Any]) -> str:
    threat = _map(a.get("threat_model"))
    labels = {
        "knowledge": "Attacker knows",
        "targets": "Targets",
        "neighbouring": "Neighbouring datasets",
    }
    pairs = [(labels.get(k, _e(k)), _e(v)) for k, v in threat.items()]
    if a.get("baseline") is not None:
        pairs.append(("Baseline (guessing)", _num(a.get("baseline"))))
    eps = _map(a.get("epsilon"))
    if eps:
        pairs.append(
            (
                "Empirical ε",
                f"≥ {_num(eps.get('lower_bound'))} at {_pct(eps.get('confidence'))} "
                f"confidence (score threshold {_num(eps.get('threshold'))})",
            )
        )
    notes = "".join(f"<li>{_e(n)}</li>" for n in _seq(a.get("notes")))
    return (
        f'<div class="detail{" diagnostic" if a.get("diagnostic") is True else ""}">'
        f"<h4>{_e(a.get('title') or a.get('name', 'attack'))} "
        f"<code>{_e(a.get('name', ''))}</code></h4>"
        + (f"<p>{_e(a['description'])}</p>" if a.get("description") else "")
        + _dl(pairs)
        + (f"<ul>{notes}</ul>" if notes else "")
        + "</div>"
    )


def _roc(report: Mapping[str, Any]) -> str:
    curves: list[tuple[str, list[float], list[float], bool]] = []
    rows: list[list[str]] = []
    for a in (_map(a) for a in _seq(report.get("attacks"))):
        roc = _map(a.get("roc"))
        if not roc:
            continue
        colour = _PALETTE[len(curves) % len(_PALETTE)]
        diagnostic = a.get("diagnostic") is True
        curves.append(
            (
                str(a.get("name")),
                _floats(roc.get("fpr")),
                _floats(roc.get("tpr")),
                diagnostic,
            )
        )
        tpr_at = _map(roc.get("tpr_at"))
        rows.append(
            [
                f'<span class="swatch" style="background:{colour}"></span>'
                f"<code>{_e(a.get('name'))}</code>"
                + (' <span class="tag">diagnostic</span>' if diagnostic else ""),
                _num(roc.get("auc")),
                _fixed(tpr_at.get("0.001")),
                _fixed(tpr_at.get("0.01")),
            ]
        )
    if not curves:
        return _na("ROC curves are")
    return (
        "<p>How often each attack flags a training record (true positive rate) at "
        "a given rate of false alarms on control records (false positive rate). "
        "Log-log axes show the low false-alarm region that matters for privacy; "
        "the dashed diagonal is random guessing, dotted lines mark FPR 0.1% and "
        "1%.</p>"
        f'<div class="roc">{_roc_chart(curves)}'
        + _table(["Attack", "#AUC", "#TPR at FPR 0.1%", "#TPR at FPR 1%"], rows)
        + "</div>"
    )


def _per_record(report: Mapping[str, Any]) -> str:
    warning = (
        '<div class="warning"><strong>For the data controller only.</strong> This '
        "section identifies individual training records and must not leave the "
        "organisation. Remove it before the report is shared.</div>"
    )
    section = _map(report.get("per_record"))
    if not section:
        return _na("Per-record exposure is")
    hist = _map(section.get("histogram"))
    edges, counts = _floats(hist.get("edges")), _floats(hist.get("counts"))
    chart = (
        f'<div class="figure">{_histogram(edges, counts)}</div>'
        if len(edges) >= 2 and counts
        else _na("The exposure histogram is")
    )
    rows = [
        [
            str(i + 1),
            _num(r.get("record")),
            _fixed(r.get("score")),
            _codes(r.get("attacks")),
        ]
        for i, r in enumerate(_map(r) for r in _seq(section.get("most_exposed")))
    ]
    table = (
        "<h3>Most exposed records</h3>"
        + _table(["#Rank", "#Record", "#Score", "Flagged by"], rows)
        if rows
        else ""
    )
    note = section.get("note")
    return warning + (f"<p>{_e(note)}</p>" if note else "") + chart + table


def _utility(report: Mapping[str, Any]) -> str:
    utility = _map(report.get("utility"))
    if not utility:
        return _na("The utility evaluation is")
    parts: list[str] = ["<h3>Marginal distances</h3>"]
    rows = [
        [
            f"{_num(m.get('k'))}-way",
            _num(m.get("count")),
            _fixed(m.get("mean_tvd")),
            _fixed(m.get("holdout_mean_tvd")),
            _fixed(m.get("max_tvd")),
            "<br>".join(
                f"{' × '.join(_e(c) for c in _seq(w.get('columns')))}: "
                f"{_fixed(w.get('tvd'))}"
                for w in (_map(w) for w in _seq(m.get("worst")))
            ),
        ]
        for m in (_map(m) for m in _seq(utility.get("marginals")))
    ]
    parts.append(
        "<p>Total variation distance (TVD, 0 = identical, 1 = disjoint) between the "
        "training data and the synthetic table over all k-way marginals. The holdout "
        "column is the same distance for a fresh sample of real data: the level "
        "that sampling alone explains.</p>"
        + _table(
            [
                "Marginals",
                "#Count",
                "#Mean TVD",
                "#Holdout mean TVD",
                "#Max TVD",
                "Worst",
            ],
            rows,
        )
        if rows
        else _na("Marginal distances are")
    )
    parts.append(_one_way(_seq(utility.get("one_way"))))
    parts.append(_association(_map(utility.get("association"))))
    parts.append(_ml_efficacy(_map(utility.get("ml_efficacy"))))
    return "".join(parts)


def _one_way(columns: list[Any]) -> str:
    charts = []
    for c in (_map(c) for c in columns[:_MAX_ONE_WAY]):
        real, synthetic = _floats(c.get("real")), _floats(c.get("synthetic"))
        n = min(len(real), len(synthetic))
        if n == 0:
            continue
        labels = [str(v) for v in _seq(c.get("labels"))]
        labels = labels[:n] if len(labels) >= n else [str(i) for i in range(n)]
        cut = (
            ' <span class="tag">first categories only</span>'
            if c.get("truncated") is True
            else ""
        )
        charts.append(
            f'<div class="small-multiple"><h4>{_e(c.get("column", ""))}{cut}</h4>'
            f"{_bars(labels, real[:n], synthetic[:n])}</div>"
        )
    if not charts:
        return "<h3>One-way distributions</h3>" + _na("One-way distributions are")
    more = len(columns) - _MAX_ONE_WAY
    return (
        '<h3>One-way distributions</h3><p><span class="swatch" style="background:'
        f'{_REAL}"></span>real (training) <span class="swatch" style="background:'
        f'{_SYNTHETIC}"></span>synthetic, share of rows per category.'
        + (f" {more} more columns are not shown." if more > 0 else "")
        + f'</p><div class="grid">{"".join(charts)}</div>'
    )


def _association(assoc: Mapping[str, Any]) -> str:
    if not assoc:
        return "<h3>Associations</h3>" + _na("Association differences are")
    rows = [
        [
            " × ".join(_e(c) for c in _seq(w.get("columns"))),
            _fixed(w.get("train")),
            _fixed(w.get("synthetic")),
            _diff(w.get("train"), w.get("synthetic")),
        ]
        for w in (_map(w) for w in _seq(assoc.get("worst")))
    ]
    return (
        "<h3>Associations</h3><p>Strength of association between pairs of columns "
        f"in the training data and the synthetic table: mean absolute difference "
        f"{_fixed(assoc.get('mean_abs_difference'))}, largest "
        f"{_fixed(assoc.get('max_abs_difference'))}.</p>"
        + (
            _table(["Columns", "#Training", "#Synthetic", "#Difference"], rows)
            if rows
            else ""
        )
    )


def _diff(a: object, b: object) -> str:
    x, y = _float(a), _float(b)
    return _NA if x is None or y is None else f"{y - x:+.3f}"


def _ml_efficacy(ml: Mapping[str, Any]) -> str:
    head = "<h3>Machine-learning efficacy</h3>"
    if not ml:
        return head + _na("Machine-learning efficacy is")
    if "skipped" in ml:
        return head + f'<p class="na">Skipped: {_e(ml["skipped"])}</p>'
    pairs = [
        ("Target column", f"<code>{_e(ml.get('target'))}</code>"),
        ("Model", _e(ml.get("model"))),
        ("Accuracy, trained on synthetic", _fixed(ml.get("accuracy_synthetic"))),
        ("Accuracy, trained on real", _fixed(ml.get("accuracy_real"))),
        ("Majority-class baseline", _fixed(ml.get("majority_baseline"))),
        ("Test rows (real, held out)", _num(ml.get("test_rows"))),
    ]
    return head + _dl(pairs)


def _ledger(report: Mapping[str, Any]) -> str:
    ledger = _map(report.get("ledger"))
    if not ledger:
        return _na("The privacy ledger is")
    rows = []
    for i, event in enumerate(_map(e) for e in _seq(ledger.get("events"))):
        params = ", ".join(
            f"{_e(k)} = {_num(v)}"
            for k, v in event.items()
            if k not in ("kind", "label")
        )
        rows.append(
            [
                str(i + 1),
                _e(event.get("kind", "")),
                _e(event.get("label", "")),
                params or _NA,
            ]
        )
    return (
        f'<div class="kpis">{_kpi("Total ε", _num(ledger.get("epsilon")))}'
        f"{_kpi('Total δ', _num(ledger.get('delta')))}</div>"
        + (_table(["#Step", "Event", "Label", "Parameters"], rows) if rows else "")
    )


def _thresholds(report: Mapping[str, Any]) -> str:
    thresholds = _map(report.get("thresholds"))
    if not thresholds:
        return _na("Thresholds are")
    why = _map(thresholds.get("justification"))
    names = {
        "alpha": "Significance level α",
        "risk_tolerance": "Risk tolerance",
        "confidence": "Confidence of intervals and bounds",
    }
    rows = [
        [
            f"{names.get(k, _e(k))}<br><code>{_e(k)}</code>",
            (
                ", ".join(f"{_e(kk)} = {_num(vv)}" for kk, vv in v.items())
                if isinstance(v, Mapping)
                else _num(v)
            ),
            _e(why[k]) if why.get(k) else _NA,
        ]
        for k, v in thresholds.items()
        if k != "justification"
    ]
    return _table(["Threshold", "#Value", "Justification"], rows)


def _limitations(report: Mapping[str, Any]) -> str:
    items = report.get("limitations")
    if not isinstance(items, list | tuple):
        return _na("Limitations are")
    if not items:
        return "<p>The report lists no limitations.</p>"
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _reproducibility(report: Mapping[str, Any]) -> str:
    data = _map(report.get("data"))
    columns = ", ".join(_e(c) for c in _seq(data.get("columns")))
    notes = "".join(f"<li>{_e(n)}</li>" for n in _seq(data.get("notes")))
    pairs = [("Columns", columns)] if columns else []
    if data.get("schema_source"):
        pairs.append(("Schema", _e(data["schema_source"])))
    head = "<h3>Data</h3>" + _dl(pairs) if pairs else ""
    head += f"<ul>{notes}</ul>" if notes else ""
    repro = _map(report.get("reproducibility"))
    if not repro:
        return head + _na("Reproducibility information is")
    lines = [
        f"report    {_e(report.get('format', ''))} v{_e(report.get('version', ''))}"
    ]
    versions = _map(repro.get("versions"))
    lines += [f"version   {_e(k)} {_e(v)}" for k, v in versions.items()]
    lines.append(f"seed      {_e(repro.get('seed', 'not recorded'))}")
    for name, info in _map(repro.get("inputs")).items():
        i = _map(info)
        lines.append(f"input     {_e(name)}: {_e(i.get('path', ''))}")
        lines.append(
            f"          sha256 {_e(i.get('sha256', ''))}  rows {_e(i.get('rows', ''))}"
        )
    if repro.get("command"):
        lines.append(f"command   {_e(repro['command'])}")
    return head + f'<pre class="repro">{chr(10).join(lines)}</pre>'


_SECTIONS: tuple[tuple[str, str, Callable[[Mapping[str, Any]], str]], ...] = (
    ("criteria", "Verdict per GDPR criterion", _criteria),
    ("attacks", "Attacks", _attacks),
    ("roc", "ROC curves", _roc),
    ("exposure", "Per-record exposure", _per_record),
    ("utility", "Utility", _utility),
    ("ledger", "Privacy ledger", _ledger),
    ("thresholds", "Thresholds", _thresholds),
    ("limitations", "Limitations", _limitations),
    ("reproducibility", "Reproducibility", _reproducibility),
)

_CSS = """
body{margin:0;background:#f3f4f6;color:#1f2328;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,
"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:24px auto;padding:0 24px 48px}
header.head,section{background:#fff;border:1px solid #d0d7de;border-radius:8px;
padding:20px 28px;margin-top:18px}
.eyebrow{font-size:13px;color:#57606a;text-transform:uppercase;letter-spacing:.06em}
.title{display:flex;align-items:center;gap:18px;flex-wrap:wrap}
h1{font-size:26px;margin:4px 0}
h2{font-size:20px;margin:0 0 12px;padding-bottom:6px;border-bottom:1px solid #eaeef2}
h3{font-size:16px;margin:20px 0 8px}h4{font-size:15px;margin:6px 0}
.summary{font-size:17px;margin:10px 0 14px}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;color:#fff;
font-weight:700;font-size:12px;letter-spacing:.05em;text-transform:uppercase;
white-space:nowrap}
.badge.big{font-size:18px;padding:5px 20px}.badge.muted{opacity:.55}
.v-pass{background:#1a7f37}.v-fail{background:#c62828}
.v-inconclusive{background:#9a6700}.v-unknown{background:#6e7781}
.kpis{display:flex;gap:14px;flex-wrap:wrap;margin:8px 0}
.kpi{border:1px solid #d0d7de;border-radius:6px;padding:10px 18px;min-width:200px}
.kpi .label{font-size:13px;color:#57606a;font-weight:600}
.kpi .value{font-size:24px;font-weight:600}.kpi .sub{font-size:13px;color:#57606a}
.note,.data,.caption{color:#57606a;font-size:14px;margin:6px 0}
nav{margin-top:12px;padding-top:10px;border-top:1px solid #eaeef2;font-size:14px}
a{color:#0969da;text-decoration:none}
.cards{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.card{border:1px solid #d0d7de;border-left:6px solid #6e7781;border-radius:6px;
padding:10px 16px}
.card p{margin:6px 0}.card .q{color:#57606a;font-size:14px}
.card .based{font-size:13px}
.c-pass{border-left-color:#1a7f37}.c-fail{border-left-color:#c62828}
.c-inconclusive{border-left-color:#9a6700}
.card-head{display:flex;justify-content:space-between;align-items:center;gap:8px}
.card-head h3{margin:4px 0}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin:10px 0 14px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;
vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.diagnostic td{color:#6e7781;background:#fafbfc}
.tag{display:inline-block;font-size:12px;padding:0 6px;border:1px solid #afb8c1;
border-radius:4px;color:#57606a;background:#fff;white-space:nowrap}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",
monospace;font-size:.9em;background:#f6f8fa;padding:0 3px;border-radius:3px}
.chart{max-width:100%;height:auto;font-size:12px;fill:#1f2328}
.chart .small{font-size:11px}
.figure{margin:10px 0}
.details{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.detail{border:1px solid #eaeef2;border-radius:6px;padding:6px 14px}
.detail ul{margin:4px 0;padding-left:20px;font-size:14px}
.detail.diagnostic{color:#57606a}
.detail p{margin:4px 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:6px 0;
font-size:14px}
dt{color:#57606a}dd{margin:0}
.roc{display:flex;gap:20px;align-items:flex-start;flex-wrap:wrap}
.roc table{flex:1;min-width:320px;width:auto}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;
margin:0 6px 0 2px;vertical-align:-1px}
.warning{border:2px solid #c62828;background:#fff5f5;padding:12px 16px;
border-radius:6px;margin-bottom:10px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));
gap:12px}
.small-multiple{border:1px solid #eaeef2;border-radius:6px;padding:6px 10px}
.na{color:#6e7781;font-style:italic}
pre.repro{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,
"DejaVu Sans Mono",monospace;font-size:13px;background:#f6f8fa;
border:1px solid #d0d7de;border-radius:6px;padding:14px;white-space:pre-wrap;
overflow-wrap:anywhere}
@media print{body{background:#fff}main{margin:0}
header.head,section{border:none;break-inside:avoid-page}}
"""
