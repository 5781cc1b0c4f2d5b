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
    store.charge("adult", [PureDPEvent(epsilon=1.0)], release="r1")
    acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
    acc.spend(PureDPEvent(epsilon=0.5), count=2)
    store.charge("adult", acc, release="r2")

    again = BudgetStore(path)
    assert again.spent("adult") == (2.0, 1e-9)
    assert [r.name for r in again.releases("adult")] == ["r1", "r2"]
    assert [r.epsilon_after for r in again.releases("adult")] == [1.0, 2.0]
    assert [(rel, e.epsilon, c) for rel, e, c in again.events("adult")] == [
        ("r1", 1.0, 1),
        ("r2", 0.5, 2),
    ]


def test_refusal_records_nothing(path):
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=1.0, delta=1e-9)
    store.charge("adult", [(PureDPEvent(epsilon=0.3), 2)], release="r1")
    with pytest.raises(BudgetExceededError, match="over its limit 1") as info:
        store.charge("adult", [PureDPEvent(epsilon=0.5)], release="r2")
    assert info.value.requested == 1.1 and info.value.budget == 1.0
    assert store.spent("adult") == (0.6, 1e-9)
    assert [r.name for r in store.releases("adult")] == ["r1"]
    # the release name is still free after a refusal
    store.charge("adult", [PureDPEvent(epsilon=0.4)], release="r2")
    assert store.spent("adult") == (1.0, 1e-9)


def test_releases_compose_tightly(path):
    """Three releases of 40 Gaussian marginals: composed, not added."""
    store = BudgetStore(path)
    store.set_limit("adult", epsilon=4.0, delta=1e-9)
    per_release = []
    for name in ("a", "b", "c"):
        acc = PrivacyAccountant(epsilon=2.0, delta=1e-9)
        acc.spend(GaussianEvent(sigma=40.0), count=40)
        per_release.append(acc.epsilon())
        store.charge("adult", acc.to_dict(), release=name)
    together = PrivacyAccountant.unlimited(delta=1e-9)
    together.spend(GaussianEvent(sigma=40.0), count=120)
    assert store.spent("adult")[0] == together.epsilon()
    assert together.epsilon() < sum(per_release)


def test_charge_validation(path):
    store = BudgetStore(path)
    with pytest.raises(ValidationError, match="must have a limit"):
        store.charge("nope", [PureDPEvent(epsilon=0.1)], release="r")
    store.set_limit("adult", epsilon=1.0, delta=0.0, fingerprint="abc")
    store.charge("adult", [PureDPEvent(epsilon=0.1)], release="r", fingerprint="abc")
    with pytest.raises(ValidationError, match="was charged already"):
        store.charge("adult", [PureDPEvent(epsilon=0.1)], release="r")
    with pytest.raises(ValidationError, match="same table"):
        store.charge("adult", [PureDPEvent(epsilon=0.1)], release="s", fingerprint="x")
    with pytest.raises(ValidationError, match="must be a DpEvent"):
        store.charge("adult", [("not", "events")], release="t")
    with pytest.raises(ValidationError, match="non-empty string"):
        store.charge("adult", [PureDPEvent(epsilon=0.1)], release="")
    assert store.spent("adult") == (0.1, 0.0)


def test_other_file_is_refused(tmp_path):
    import sqlite3

    p = tmp_path / "x.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('format', 'something-else')")
    con.commit()
    con.close()
    with pytest.raises(ValidationError, match="must be a dpsynth-budget-store/1"):
        BudgetStore(p)


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
        store.charge("adult", [PureDPEvent(epsilon=0.45)], release=f"r{index}")
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
