import hashlib
import multiprocessing as mp

import pytest

from dpsynth.errors import BudgetExceededError, ValidationError
from dpsynth.privacy.accountant import PrivacyAccountant
from dpsynth.privacy.events import GaussianEvent, PureDPEvent
from dpsynth.privacy.store import BudgetStore, fingerprint_file


@pytest.fixture
def path(tmp_path):
    return tmp_path / "budget.sqlite"


def test_limit_is_set_once(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-9)
    store.set_limit("adult", epsilon=4.0, delta=1e-9)  # same limit: no-op
    with pytest.raises(ValidationError, match="A limit is set once"):
        store.set_limit("adult", epsilon=5.0, delta=1e-9)
    assert store.limit("adult").epsilon == 4.0
    assert store.limit("other") is None
    assert store.datasets() == ["adult"]


def test_charges_persist_across_instances(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-9)
    store.charge("adult", [PureDPEvent(epsilon=1.0)], release="r1", delta=0.0)
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
    acc.spend(PureDPEvent(epsilon=0.5), count=2)
    store.charge("adult", acc, release="r2")

    again = BudgetStore(path)
    own = acc.epsilon()  # the ledger's own epsilon at its budget's delta (PLD)
    assert 0.999 < own <= 1.0
    assert again.spent("adult") == (1.0 + own, 1e-9)
    assert [r.name for r in again.releases("adult")] == ["r1", "r2"]
    assert [(r.epsilon, r.delta) for r in again.releases("adult")] == [
        (1.0, 0.0),
        (own, 1e-9),
    ]
    assert [r.epsilon_after for r in again.releases("adult")] == [1.0, 1.0 + own]
    assert [(rel, e.epsilon, c) for rel, e, c in again.events("adult")] == [
        ("r1", 1.0, 1),
        ("r2", 0.5, 2),
    ]


def test_refusal_records_nothing(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=1e-9)
    store.charge("adult", [(PureDPEvent(epsilon=0.3), 2)], release="r1", delta=0.0)
    with pytest.raises(
        BudgetExceededError, match="over its limit of epsilon 1"
    ) as info:
        store.charge("adult", [PureDPEvent(epsilon=0.5)], release="r2", delta=0.0)
    assert info.value.requested == 1.1 and info.value.budget == 1.0
    assert store.spent("adult") == (0.6, 0.0)
    assert [r.name for r in store.releases("adult")] == ["r1"]
    # the release name is still free after a refusal
    store.charge("adult", [PureDPEvent(epsilon=0.4)], release="r2", delta=0.0)
    assert store.spent("adult") == (1.0, 0.0)


def test_releases_add_up_and_each_keeps_its_own_tight_composition(path):
    """Three releases of 40 Gaussian marginals: a later release may be chosen
    after seeing the earlier ones, so the store adds their epsilons and deltas
    (basic composition is a valid filter; composing all events by PLD is not)."""
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    per_release = []
    for name in ("a", "b", "c"):
        acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
        acc.spend(GaussianEvent(sigma=40.0), count=40)
        assert acc.ledger.method == "pld"  # inside a release: tight
        per_release.append(acc.epsilon())
        store.charge("adult", acc.to_dict(), release=name)
    epsilon, delta = store.spent("adult")
    assert epsilon == pytest.approx(sum(per_release), rel=1e-12)
    assert epsilon >= sum(per_release) * (1 - 1e-15) and delta == pytest.approx(3e-9)
    assert [r.epsilon for r in store.releases("adult")] == per_release


def test_a_fully_adaptive_ledger_is_charged_its_zcdp_epsilon(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
    acc.declare_fully_adaptive()
    acc.spend(GaussianEvent(sigma=40.0), count=40)
    tight = PrivacyAccountant.unlimited(delta=1e-9)
    tight.spend(GaussianEvent(sigma=40.0), count=40)
    assert acc.epsilon() > tight.epsilon()
    assert store.charge("adult", acc.ledger, release="aim")[0] == acc.epsilon()
    # bare events carry no declaration: composed as planned in advance
    store.charge("adult", [(GaussianEvent(sigma=40.0), 40)], release="mst", delta=1e-9)
    assert store.releases("adult")[1].epsilon == tight.epsilon()


def test_charge_validation(path):
    store = BudgetStore(path)
    with pytest.raises(ValidationError, match="must have a limit"):
        store.charge("nope", [PureDPEvent(epsilon=0.1)], release="r", delta=0.0)
    store.set_limit("adult", epsilon=1.0, delta=0.0, fingerprint="abc")
    pure = [PureDPEvent(epsilon=0.1)]
    store.charge("adult", pure, release="r", fingerprint="abc", delta=0.0)
    with pytest.raises(ValidationError, match="was charged already"):
        store.charge("adult", pure, release="r", delta=0.0)
    with pytest.raises(ValidationError, match="same table"):
        store.charge("adult", pure, release="s", fingerprint="x", delta=0.0)
    with pytest.raises(ValidationError, match="must be a DpEvent"):
        store.charge("adult", [("not", "events")], release="t", delta=0.0)
    with pytest.raises(ValidationError, match="non-empty string"):
        store.charge("adult", pure, release="", delta=0.0)
    with pytest.raises(ValidationError, match=r"`delta` \(None\) must be given"):
        store.charge("adult", pure, release="u")
    with pytest.raises(ValidationError, match="delta"):
        store.charge("adult", pure, release="u", delta=1.5)
    assert store.spent("adult") == (0.1, 0.0)


def _file_with_format(path, fmt):
    """An SQLite file whose meta table names ``fmt`` as its format."""
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('format', ?)", (fmt,))
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("something-else", "must be a dpsynth-budget-store/2"),
        ("dpsynth-budget-store/1", "not valid when later releases"),
    ],
)
def test_other_or_older_files_are_refused_with_a_reason(tmp_path, fmt, message):
    path = _file_with_format(tmp_path / "x.sqlite", fmt)
    with pytest.raises(ValidationError, match=message):
        BudgetStore(path)


def test_fingerprint_file(tmp_path):
    f = tmp_path / "data.csv"
    f.write_bytes(b"a,b\n1,2\n")
    assert fingerprint_file(f) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    with pytest.raises(ValidationError, match="must be a readable file"):
        fingerprint_file(tmp_path / "missing.csv")


def _race(path, barrier, results, index):
    store = BudgetStore(path)
    barrier.wait()
    try:
        store.charge(
            "adult", [PureDPEvent(epsilon=0.45)], release=f"r{index}", delta=0.0
        )
        results.put(("ok", index))
    except BudgetExceededError:
        results.put(("refused", index))


def test_concurrent_charges_never_overshoot(path):
    """Four processes race to charge 0.45 each against a limit of 1: two fit."""
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=0.0)
    ctx = mp.get_context("spawn")
    n = 4
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(path), barrier, results, i))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert sorted(o for o, _ in outcomes) == ["ok", "ok", "refused", "refused"]
    assert store.spent("adult") == (0.9, 0.0)
    assert len(store.releases("adult")) == 2


# -- reservations ------------------------------------------------------------------


def _gaussian_ledger(epsilon=1.0, delta=1e-9, count=10):
    """A release's ledger: `count` Gaussian marginals landing on (epsilon, delta)."""
    acc = PrivacyAccountant(epsilon=epsilon, delta=delta)
    sigma = acc.plan_gaussian_sigma(count)
    acc.spend(GaussianEvent(sigma=sigma), count=count)
    return acc.ledger


def test_reservation_is_charged_until_settled_by_the_tighter_ledger(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    record = store.reserve("adult", epsilon=1.0, delta=1e-9, release="r1")
    assert (record.state, record.events, record.epsilon_after) == ("reserved", 1, 1.0)
    assert store.spent("adult") == (1.0, 1e-9)
    [(_, event, count)] = store.events("adult")
    assert (event.kind, event.epsilon, event.delta, count) == (
        "approx_dp",
        1.0,
        1e-9,
        1,
    )

    ledger = _gaussian_ledger(epsilon=0.9)
    settled = store.settle("adult", "r1", ledger)
    # lowered to the ledger's own epsilon at the reservation's delta
    assert settled.state == "settled" and settled.events == 1
    assert settled.epsilon == settled.epsilon_after == ledger.epsilon
    assert 0.8999 < ledger.epsilon <= 0.9 and settled.delta == 1e-9
    assert store.spent("adult") == (ledger.epsilon, 1e-9)
    assert [e.kind for _, e, _ in store.events("adult")] == ["gaussian"]
    assert [(r.name, r.state) for r in store.releases("adult")] == [("r1", "settled")]


def test_settling_never_raises_the_total(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=2.0, delta=1e-9)
    store.charge("adult", [PureDPEvent(epsilon=0.5)], release="r0", delta=0.0)
    store.reserve("adult", epsilon=1.0, delta=0.0, release="r1")
    assert store.spent("adult") == (1.5, 0.0)
    # at delta 0, 5 x 0.2 sums (rounded up, for safety) to one ulp above 1.0:
    # inside the rounding slack, and the release keeps the reservation's 1.0
    record = store.settle("adult", "r1", [(PureDPEvent(epsilon=0.2), 5)])
    assert (record.state, record.events, record.epsilon) == ("settled", 1, 1.0)
    assert store.spent("adult") == (1.5, 0.0)
    assert [e.kind for _, e, _ in store.events("adult")] == ["pure_dp", "pure_dp"]


def test_settle_composes_a_fully_adaptive_ledger_in_zcdp(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    store.reserve("adult", epsilon=1.0, delta=1e-9, release="aim")
    acc = PrivacyAccountant(epsilon=1.0, delta=1e-9)
    acc.declare_fully_adaptive()
    acc.spend(GaussianEvent(sigma=acc.plan_gaussian_sigma(10)), count=10)
    record = store.settle("adult", "aim", acc.ledger)
    assert record.epsilon == acc.epsilon() and 0.9999 < record.epsilon <= 1.0


def test_settle_refuses_events_the_reservation_does_not_cover(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    store.reserve("adult", epsilon=0.5, delta=1e-9, release="r1")
    with pytest.raises(ValidationError, match="must fit inside release 'r1'"):
        store.settle("adult", "r1", [PureDPEvent(epsilon=0.8)])
    assert store.releases("adult")[0].state == "reserved"
    assert store.spent("adult") == (0.5, 1e-9)


def test_cancel_frees_the_reservation_and_its_name(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=1e-8)
    store.reserve("adult", epsilon=1.0, delta=1e-9, release="r1")
    store.cancel("adult", "r1")
    assert store.spent("adult") == (0.0, 0.0)
    assert store.releases("adult") == [] and store.events("adult") == []
    store.reserve("adult", epsilon=1.0, delta=1e-9, release="r1")  # name is free


@pytest.mark.parametrize("action", ["settle", "cancel", "fail"])
def test_only_a_pending_reservation_can_be_settled_cancelled_or_failed(path, action):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    store.charge("adult", [PureDPEvent(epsilon=0.1)], release="charged", delta=0.0)
    store.reserve("adult", epsilon=0.5, delta=1e-9, release="done")
    store.settle("adult", "done", [PureDPEvent(epsilon=0.2)])
    args = {"settle": ([PureDPEvent(epsilon=0.1)],), "cancel": (), "fail": ()}[action]
    for name, found in [
        ("charged", "its state is 'charged'"),
        ("done", "its state is 'settled'"),
        ("nope", "no such release"),
    ]:
        with pytest.raises(ValidationError, match=f"pending reservation .*; {found}"):
            getattr(store, action)("adult", name, *args)
    assert store.spent("adult") == (pytest.approx(0.3), 1e-9)


def test_fail_keeps_the_reservation_charged(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=1e-8)
    store.reserve("adult", epsilon=0.6, delta=1e-9, release="r1")
    assert store.fail("adult", "r1").state == "failed"
    assert store.spent("adult") == (0.6, 1e-9)
    with pytest.raises(ValidationError, match="its state is 'failed'"):
        store.cancel("adult", "r1")
    with pytest.raises(BudgetExceededError, match="Reserving epsilon = 0.6"):
        store.reserve("adult", epsilon=0.6, delta=1e-9, release="r2")


def test_reservation_over_the_limit_records_nothing(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=1e-8)
    with pytest.raises(
        BudgetExceededError, match="over its limit of epsilon 1"
    ) as info:
        store.reserve("adult", epsilon=1.5, delta=1e-9, release="r1")
    assert info.value.requested == 1.5
    assert store.releases("adult") == [] and store.spent("adult") == (0.0, 0.0)
    with pytest.raises(ValidationError, match="must be > 0"):
        store.reserve("adult", epsilon=0.0, delta=1e-9, release="r1")
    store.set_limit("tight", epsilon=4.0, delta=1e-9)
    store.reserve("tight", epsilon=1.0, delta=1e-9, release="r1")
    store.settle("tight", "r1", _gaussian_ledger())
    with pytest.raises(BudgetExceededError, match="limit delta must cover their sum"):
        store.reserve("tight", epsilon=0.1, delta=1e-9, release="r2")


def test_first_fingerprint_is_recorded_and_a_different_one_refused(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-8)
    assert store.fingerprint("adult") is None
    store.set_limit("other", epsilon=4.0, delta=1e-8)
    store.set_limit("other", epsilon=4.0, delta=1e-8, fingerprint="cc")  # recorded
    assert store.fingerprint("other") == "cc"
    store.reserve("adult", epsilon=0.5, delta=1e-9, release="r1", fingerprint="aa")
    assert store.fingerprint("adult") == "aa"
    with pytest.raises(ValidationError, match="same table"):
        store.reserve("adult", epsilon=0.5, delta=1e-9, release="r2", fingerprint="b")
    store.reserve("adult", epsilon=0.5, delta=1e-9, release="r2", fingerprint="aa")
    assert store.fingerprint("unknown") is None


def _race_reserve(path, barrier, results, index):
    store = BudgetStore(path)
    barrier.wait()
    try:
        store.reserve("adult", epsilon=0.6, delta=1e-9, release=f"r{index}")
        results.put(("ok", index))
    except BudgetExceededError:
        results.put(("refused", index))


def test_two_processes_racing_to_reserve_never_overshoot(path):
    """Each reservation (0.6) fits the limit (1.0) alone; together they do not."""
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=1e-8)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_race_reserve, args=(str(path), barrier, results, i))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in range(2)]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert sorted(o for o, _ in outcomes) == ["ok", "refused"]
    winner = next(i for o, i in outcomes if o == "ok")
    assert [(r.name, r.state) for r in store.releases("adult")] == [
        (f"r{winner}", "reserved")
    ]
    assert store.spent("adult") == (0.6, 1e-9)
