"""The HTML audit report: structure, escaping, robustness, and a real browser render."""

import copy
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from statistics import NormalDist

import numpy as np
import pytest

from dpsynth.audit.html import render_html
from dpsynth.errors import ValidationError

HOSTILE = "<script>alert(1)</script>"
ATTRIBUTE_BREAKER = '"><img src=x onerror=alert(2)>'
VOID = {"meta", "br", "link", "img", "hr", "input", "col", "wbr"}
OPTIONAL = [
    "criteria",
    "claim",
    "empirical_epsilon",
    "attacks",
    "per_record",
    "utility",
    "ledger",
    "thresholds",
    "limitations",
    "data",
    "reproducibility",
]


def _roc(separation, points=60):
    """A binormal ROC curve: TPR = Phi(Phi^-1(FPR) + separation)."""
    normal = NormalDist()
    fpr = [0.0] + [10 ** (-4 + 4 * i / (points - 1)) for i in range(points)]
    tpr = [0.0] + [
        normal.cdf(normal.inv_cdf(min(f, 1 - 1e-12)) + separation) for f in fpr[1:]
    ]
    tpr[-1] = 1.0
    auc = normal.cdf(separation / 2**0.5)
    at = {
        k: round(normal.cdf(normal.inv_cdf(float(k)) + separation), 4)
        for k in ("0.001", "0.01")
    }
    return {"auc": round(auc, 4), "fpr": fpr, "tpr": tpr, "tpr_at": at}


def _attack(
    name,
    title,
    criterion,
    *,
    risk,
    ci,
    p,
    p_adjusted,
    verdict,
    main,
    control,
    roc=None,
    epsilon=None,
    diagnostic=False,
):
    def counts(k, n):
        return {
            "successes": k,
            "trials": n,
            "rate": k / n,
            "ci": [max(k / n - 0.02, 0), min(k / n + 0.02, 1)],
        }

    return {
        "name": name,
        "title": title,
        "criterion": criterion,
        "description": f"{title}: the attacker scores every target record.",
        "threat_model": {
            "knowledge": "the synthetic table and the schema",
            "targets": "1,000 training and 1,000 holdout records",
            "neighbouring": "add/remove one record",
        },
        "risk": risk,
        "ci": ci,
        "p_value": p,
        "p_adjusted": p_adjusted,
        "verdict": verdict,
        "diagnostic": diagnostic,
        "main": counts(*main),
        "control": counts(*control),
        "baseline": 0.1,
        "roc": roc,
        "epsilon": epsilon,
        "notes": ["Targets were drawn before the synthetic table was seen."],
    }


def _shares(n):
    weights = [0.6**i for i in range(n)]
    return [w / sum(weights) for w in weights]


def example_report():
    """A complete report in the shape the audit writes (version 1)."""
    columns = [
        "age",
        "workclass",
        "education",
        "marital-status",
        "occupation",
        "relationship",
        "race",
        "sex",
        "hours-per-week",
        "native-country",
        "capital-gain",
        "capital-loss",
        "income",
        "fnlwgt",
    ]
    attacks = [
        _attack(
            "dcr_membership",
            "Membership: distance to closest record",
            "membership",
            risk=0.0333,
            ci=[0.012, 0.05],
            p=1e-5,
            p_adjusted=4e-5,
            verdict="fail",
            main=(130, 1000),
            control=(100, 1000),
            roc=_roc(0.35),
            epsilon={"lower_bound": 0.42, "confidence": 0.95, "threshold": 1.5},
        ),
        _attack(
            "shadow_membership",
            "Membership: shadow-model classifier",
            "membership",
            risk=0.004,
            ci=[-0.01, 0.019],
            p=0.31,
            p_adjusted=0.62,
            verdict="pass",
            main=(104, 1000),
            control=(100, 1000),
            roc=_roc(0.05),
            epsilon={"lower_bound": 0.0, "confidence": 0.95, "threshold": 0.7},
        ),
        _attack(
            "attribute_inference",
            "Attribute inference: income from quasi-IDs",
            "attribute",
            risk=0.021,
            ci=[0.004, 0.038],
            p=0.012,
            p_adjusted=0.036,
            verdict="inconclusive",
            main=(612, 1000),
            control=(590, 1000),
        ),
        _attack(
            "singling_out",
            "Singling out: unique predicates",
            "singling_out",
            risk=0.002,
            ci=[0.0, 0.011],
            p=0.4,
            p_adjusted=0.62,
            verdict="pass",
            main=(12, 500),
            control=(11, 500),
        ),
        _attack(
            "linkability",
            "Linkability: split columns",
            "linkability",
            risk=0.006,
            ci=[-0.004, 0.016],
            p=0.2,
            p_adjusted=0.6,
            verdict="pass",
            main=(31, 1000),
            control=(25, 1000),
        ),
        _attack(
            "exact_copies",
            "Exact copies of training records",
            "membership",
            risk=0.08,
            ci=[0.06, 0.1],
            p=2e-9,
            p_adjusted=1e-8,
            verdict="fail",
            main=(90, 1000),
            control=(12, 1000),
            roc=_roc(0.9),
            diagnostic=True,
        ),
    ]
    shares = {c: _shares(2 + j % 7) for j, c in enumerate(columns)}
    return {
        "format": "dpsynth-audit-report",
        "version": 1,
        "created": "2026-12-02T05:30:00+00:00",
        "verdict": "fail",
        "summary": "A membership attack identifies training records above the "
        "tolerance, so the table is not released as anonymous.",
        "criteria": {
            "membership": {
                "verdict": "fail",
                "attacks": ["dcr_membership", "shadow_membership"],
                "reason": "Records of the training data are closer to "
                "synthetic records than holdout records are.",
            },
            "attribute": {
                "verdict": "inconclusive",
                "attacks": ["attribute_inference"],
                "reason": "The excess over the control is significant "
                "but its interval straddles the tolerance.",
            },
            "singling_out": {
                "verdict": "pass",
                "attacks": ["singling_out"],
                "reason": "Unique predicates isolate training and "
                "control records equally often.",
            },
            "linkability": {
                "verdict": "pass",
                "attacks": ["linkability"],
                "reason": "Linking through the synthetic table is no "
                "better than linking at random.",
            },
        },
        "claim": {
            "epsilon": 1.0,
            "delta": 1e-9,
            "method": "aim",
            "manifest": "release/manifest.json",
        },
        "empirical_epsilon": {
            "lower_bound": 0.42,
            "confidence": 0.95,
            "claimed": 1.0,
            "delta": 1e-9,
            "attack": "dcr_membership",
            "verdict": "pass",
            "note": "The lower bound does not exceed the claimed "
            "epsilon, so the audit found no violation "
            "of the DP claim.",
        },
        "attacks": attacks,
        "per_record": {
            "note": "Exposure is the largest score a record receives from any "
            "attack, scaled to [0, 1].",
            "histogram": {
                "edges": [i / 10 for i in range(11)],
                "counts": [4210, 2980, 1450, 640, 320, 170, 90, 40, 12, 3],
            },
            "most_exposed": [
                {
                    "record": 18231,
                    "score": 0.97,
                    "attacks": ["dcr_membership", "exact_copies"],
                },
                {"record": 402, "score": 0.93, "attacks": ["dcr_membership"]},
                {"record": 7719, "score": 0.88, "attacks": ["singling_out"]},
            ],
        },
        "utility": {
            "marginals": [
                {
                    "k": k,
                    "mean_tvd": 0.01 * k,
                    "max_tvd": 0.04 * k,
                    "count": [14, 91, 364][k - 1],
                    "holdout_mean_tvd": 0.006 * k,
                    "worst": [
                        {"columns": columns[:k], "tvd": 0.04 * k},
                        {"columns": columns[1 : k + 1], "tvd": 0.035 * k},
                    ],
                }
                for k in (1, 2, 3)
            ],
            "one_way": [
                {
                    "column": c,
                    "real": s,
                    "synthetic": [v * (1.1 if i % 2 else 0.9) for i, v in enumerate(s)],
                    "labels": [f"{c[:3]}-{i}" for i in range(len(s))]
                    if j % 2
                    else None,
                    "truncated": j == 3,
                }
                for j, (c, s) in enumerate(shares.items())
            ],
            "association": {
                "mean_abs_difference": 0.018,
                "max_abs_difference": 0.09,
                "worst": [
                    {
                        "columns": ["relationship", "sex"],
                        "train": 0.65,
                        "synthetic": 0.56,
                    },
                    {
                        "columns": ["education", "occupation"],
                        "train": 0.31,
                        "synthetic": 0.27,
                    },
                ],
            },
            "ml_efficacy": {
                "target": "income",
                "model": "logistic regression",
                "accuracy_synthetic": 0.812,
                "accuracy_real": 0.846,
                "majority_baseline": 0.759,
                "test_rows": 1000,
            },
        },
        "ledger": {
            "epsilon": 1.0,
            "delta": 1e-9,
            "events": [
                {"kind": "gaussian", "label": "aim: 1-way marginals", "rho": 0.0021},
                {
                    "kind": "exponential",
                    "label": "aim: select round 1",
                    "epsilon": 0.05,
                },
            ],
        },
        "thresholds": {
            "alpha": 0.05,
            "risk_tolerance": 0.05,
            "confidence": 0.95,
            "justification": {
                "alpha": "Conventional 5% family-wise error over the battery.",
                "risk_tolerance": "An attacker may gain at most 5 percentage "
                "points over the control.",
            },
        },
        "limitations": [
            "The attacks bound what these attackers achieve, not every attacker.",
            "One synthetic sample was audited; another could differ.",
        ],
        "data": {
            "train_rows": 30000,
            "holdout_rows": 10000,
            "synthetic_rows": 30000,
            "columns": columns,
            "schema_source": "schema.json (declared, not read from the data)",
            "notes": ["Rows with missing values were dropped before training."],
        },
        "reproducibility": {
            "versions": {"dpsynth": "0.1.0.dev0", "numpy": "2.1.3", "python": "3.11.7"},
            "seed": 0,
            "inputs": {
                "train": {"path": "data/train.csv", "sha256": "ab" * 32, "rows": 30000},
                "synthetic": {
                    "path": "release/synthetic.csv",
                    "sha256": "cd" * 32,
                    "rows": 30000,
                },
            },
            "command": "dpsynth audit data/train.csv release/synthetic.csv "
            "--holdout data/holdout.csv --seed 0 --out audit/",
        },
    }


class _Structure(HTMLParser):
    """Checks that every non-void element closes in order; collects tags and text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page):
    parser = _Structure()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    return parser


def _svg_count(report):
    attacks = report["attacks"]
    return (
        1
        + any(a["roc"] for a in attacks)
        + 1
        + min(len(report["utility"]["one_way"]), 12)
    )


def test_page_is_balanced_and_holds_every_section_in_order():
    report = example_report()
    page = render_html(report)
    parser = _parse(page)
    assert page.startswith("<!DOCTYPE html>")
    ids = [a["id"] for t, a in parser.tags if t in ("section", "header") and "id" in a]
    assert ids == [
        "criteria",
        "attacks",
        "roc",
        "exposure",
        "utility",
        "ledger",
        "thresholds",
        "limitations",
        "reproducibility",
    ]
    text = " ".join(parser.text)
    assert 'class="badge v-fail big"' in page and "Fail" in text
    for attack in report["attacks"]:
        assert attack["name"] in text
    assert [t for t, _ in parser.tags].count("svg") == _svg_count(report) == 15
    assert render_html(report) == page  # deterministic


def test_headline_prints_the_empirical_bound_beside_the_claim():
    page = render_html(example_report())
    head = page[page.index("<header") : page.index("</header>")]
    assert "Claimed ε" in head and "Empirical ε lower bound" in head
    assert "≥ 0.42" in head and "95% confidence" in head
    assert "<code>aim</code>" in head and "1.0&#8239;×&#8239;10<sup>−9</sup>" in head
    assert "30,000 training rows" in head


def test_numbers_are_rendered_for_a_reader():
    page = render_html(example_report())
    assert "0.033 [0.012, 0.050]" in page  # risk with its interval
    assert "1.0&#8239;×&#8239;10<sup>−5</sup>" in page  # small p-value
    assert "0.310" in page  # p-values of ordinary size stay decimal
    assert "130/1,000 = 0.130" in page
    assert "−0.010" not in page and "[-0.010, 0.019]" in page


def test_diagnostic_attacks_are_greyed_and_marked():
    page = render_html(example_report())
    row = re.search(r'<tr class="diagnostic">.*?</tr>', page).group(0)
    assert "exact_copies" in row and "diagnostic, not used for the verdict" in row
    assert "exact_copies (diagnostic)" in page  # label in the risk chart
    assert page.count('<tr class="diagnostic">') == 1


def test_roc_section_lists_tpr_at_low_fpr_and_draws_log_axes():
    report = example_report()
    page = render_html(report)
    roc = page[page.index('<section id="roc">') : page.index('<section id="exposure">')]
    assert roc.count("<polyline") == 3  # one curve per attack with a ROC
    assert "TPR at FPR 0.1%" in roc and "TPR at FPR 1%" in roc
    tpr = report["attacks"][0]["roc"]["tpr_at"]
    assert f"{tpr['0.001']:.3f}" in roc and f"{tpr['0.01']:.3f}" in roc
    for tick in ("0.0001", "0.001", "0.01", "0.1"):
        assert f">{tick}</text>" in roc


def test_per_record_section_warns_that_it_stays_inside():
    page = render_html(example_report())
    exposure = page[page.index('<section id="exposure">') :]
    assert exposure.index('class="warning"') < exposure.index("<svg")
    assert "must not leave the organisation" in exposure
    assert "18,231" in exposure


def test_hostile_strings_are_escaped_everywhere():
    report = example_report()
    report["data"]["columns"][0] = HOSTILE
    report["utility"]["one_way"][0]["column"] = HOSTILE
    report["utility"]["one_way"][1]["labels"][0] = ATTRIBUTE_BREAKER
    report["utility"]["marginals"][1]["worst"][0]["columns"] = [HOSTILE, "b & c"]
    report["attacks"][0]["name"] = ATTRIBUTE_BREAKER
    report["attacks"][1]["title"] = HOSTILE
    report["attacks"][2]["threat_model"]["knowledge"] = HOSTILE
    report["criteria"]["membership"]["reason"] = HOSTILE
    report["summary"] = HOSTILE
    report["limitations"].append(HOSTILE)
    report["reproducibility"]["command"] = f"dpsynth audit '{HOSTILE}'"
    report["ledger"]["events"][0]["label"] = ATTRIBUTE_BREAKER
    report["per_record"]["most_exposed"][0]["attacks"] = [HOSTILE]
    report["verdict"] = HOSTILE
    page = render_html(report)
    _parse(page)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x" in page and "b &amp; c" in page


def test_page_loads_nothing_from_outside():
    report = example_report()
    report["reproducibility"]["inputs"]["train"]["path"] = "https://example.org/x.csv"
    page = render_html(report)
    links = re.findall(r"""(?:src|href|xlink:href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert links and all(link.startswith("#") for link in links)
    assert not re.search(r"url\(|@import|<script|<link|<iframe", page, re.I)
    assert "default-src 'none'" in page
    assert "https://example.org/x.csv" in page  # shown as text only


@pytest.mark.parametrize("key", OPTIONAL)
@pytest.mark.parametrize("how", ["none", "missing"])
def test_every_optional_section_may_be_missing(key, how):
    report = example_report()
    if how == "none":
        report[key] = None
    else:
        del report[key]
    _parse(render_html(report))


def test_a_report_with_nothing_optional_still_renders():
    report = example_report()
    for key in OPTIONAL:
        report[key] = None
    report["attacks"] = [
        dict(
            report_attack,
            roc=None,
            epsilon=None,
            ci=None,
            main=None,
            control=None,
            threat_model=None,
            notes=None,
        )
        for report_attack in example_report()["attacks"]
    ]
    page = render_html(report)
    _parse(page)
    assert page.count("not available in this report") == 8
    assert "<svg" in page  # the risk chart still draws
    empty = render_html({})
    _parse(empty)
    assert "not available" in empty and "<svg" not in empty


def test_nested_parts_may_be_none_or_malformed():
    report = example_report()
    report["utility"]["one_way"] = [
        None,
        {"column": "x", "real": [0.5, "a", None], "synthetic": [float("nan"), 0.2]},
    ]
    report["utility"]["association"] = None
    report["utility"]["ml_efficacy"] = {"skipped": "no target column was declared"}
    report["utility"]["marginals"] = None
    report["per_record"]["histogram"] = {"edges": [0.0], "counts": []}
    report["attacks"][0]["risk"] = float("nan")
    report["attacks"][1]["p_value"] = "n.a."
    report["attacks"][1]["ci"] = [0.1]
    report["attacks"][2]["roc"] = {"fpr": [0.0, 1e-6, 0.5, 1.0], "tpr": [0, 0, 0.6]}
    report["criteria"]["linkability"] = None
    report["criteria"]["extra"] = {"verdict": "unexpected"}
    report["ledger"]["events"] = [None, {"kind": "gaussian", "sigma": float("inf")}]
    report["thresholds"]["justification"] = None
    report["claim"] = {"epsilon": None}
    page = render_html(report)
    _parse(page)
    assert "Skipped: no target column was declared" in page
    assert "not stated" in page and "∞" in page and "n.a." in page


def _paths(value, prefix=()):
    """Every key path of a nested report, following the first item of each list."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list) and value:
        yield (*prefix, 0)
        yield from _paths(value[0], (*prefix, 0))


def test_any_single_field_may_hold_junk():
    # every field, one at a time, replaced by a value of the wrong kind
    report = example_report()
    paths = list(_paths(report))
    assert len(paths) > 150
    for path in paths:
        for junk in (None, "<&>", float("nan"), [None]):
            broken = copy.deepcopy(report)
            target = broken
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            assert "<&>" not in render_html(broken), path


def test_render_html_refuses_a_non_mapping():
    with pytest.raises(ValidationError, match=re.escape("`report` (list) must be")):
        render_html([])


def test_more_than_twelve_columns_show_twelve_charts():
    report = example_report()
    assert len(report["utility"]["one_way"]) == 14
    page = render_html(report)
    utility = page[page.index('<section id="utility">') : page.index('id="ledger"')]
    assert utility.count("<svg") == 12 and "2 more columns are not shown" in utility


# ------------------------------------------------------------- browser render


def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("DPSYNTH_REQUIRE_CHROMIUM") == "1":
            pytest.fail("DPSYNTH_REQUIRE_CHROMIUM=1 but no chromium on PATH")
        pytest.skip("chromium is not installed")
    return path


def _run_chromium(chromium, tmp_path, *args):
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _png_pixels(path):
    """Decodes an 8-bit, non-interlaced RGB(A) PNG into an (h, w, channels) array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    rows = raw.reshape(height, 1 + width * channels)
    out = np.zeros((height, width * channels), dtype=np.uint8)
    previous = np.zeros(width * channels, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:  # Sub: a running sum per channel, modulo 256
            current = np.cumsum(
                line.reshape(width, channels), axis=0, dtype=np.uint8
            ).reshape(-1)
        elif kind == 2:  # Up
            current = line + previous
        else:  # Average or Paeth depend on the decoded left neighbour
            current = _unfilter_sequential(int(kind), line, previous, channels)
        out[y], previous = current, current
    return out.reshape(height, width, channels)


def _unfilter_sequential(kind, line, previous, channels):
    current, above = bytearray(line.tobytes()), previous.tobytes()
    for i in range(len(current)):
        left = current[i - channels] if i >= channels else 0
        up = above[i]
        if kind == 3:
            current[i] = (current[i] + (left + up) // 2) & 0xFF
        else:
            corner = above[i - channels] if i >= channels else 0
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            current[i] = (current[i] + near) & 0xFF
    return np.frombuffer(bytes(current), dtype=np.uint8)


def test_png_decoder_reads_every_filter_type(tmp_path):
    # a 2 x 5 RGB image written with filters None, Sub, Up, Average and Paeth
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(5, 2, 3), dtype=np.uint8)
    flat = image.reshape(5, 6).astype(int)
    rows, previous = [], np.zeros(6, dtype=int)
    for kind, line in enumerate(flat):
        left = np.concatenate([[0] * 3, line[:-3]])
        corner = np.concatenate([[0] * 3, previous[:-3]])
        p = left + previous - corner
        pa, pb, pc = abs(p - left), abs(p - previous), abs(p - corner)
        paeth = np.where(
            (pa <= pb) & (pa <= pc), left, np.where(pb <= pc, previous, corner)
        )
        predictor = [0, left, previous, (left + previous) // 2, paeth][kind]
        rows.append(bytes([kind]) + bytes(((line - predictor) % 256).tolist()))
        previous = line

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body))
        )

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 5, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    (tmp_path / "t.png").write_bytes(png)
    assert np.array_equal(_png_pixels(tmp_path / "t.png"), image)


@pytest.mark.slow
def test_chromium_renders_the_page(tmp_path):
    chromium = _chromium()
    report = example_report()
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _run_chromium(chromium, tmp_path, "--dump-dom", page.as_uri())
    assert "Privacy audit of a synthetic table" in dom and ">Fail<" in dom
    assert dom.count("<svg") == _svg_count(report)
    assert dom.count("<polyline") == 3 and "<rect" in dom
    shot = tmp_path / "shot.png"
    _run_chromium(
        chromium,
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        page.as_uri(),
    )
    pixels = _png_pixels(shot)
    assert pixels.shape[:2] == (4000, 1280)
    rgb = pixels[..., :3].astype(np.uint32)
    colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
    assert len(colours) > 50  # text, charts and badges, not a blank page
    red = pixels[..., 0].astype(int) - pixels[..., 1:3].astype(int).max(axis=-1)
    assert (red > 120).sum() > 500  # the red "fail" badge and bars were painted


def test_example_report_is_not_mutated_by_rendering():
    report = example_report()
    before = copy.deepcopy(report)
    render_html(report)
    assert report == before
