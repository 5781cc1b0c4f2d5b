from importlib import resources
from pathlib import Path

import numpy as np

from dpsynth.data.encoding import Encoder
from dpsynth.data.io import read_table
from dpsynth.data.schema import Schema

EXAMPLES = Path(str(resources.files("dpsynth") / "examples"))


def test_bundled_adult_schema_encodes_the_whole_table():
    schema = Schema.load(EXAMPLES / "adult_schema.json")
    assert schema.provenance["method"] == "user" and schema.private
    assert schema.domain.to_dict() == {
        "age": 14,
        "workclass": 9,
        "fnlwgt": 14,
        "education": 16,
        "education-num": 16,
        "marital-status": 7,
        "occupation": 15,
        "relationship": 6,
        "race": 5,
        "sex": 2,
        "capital-gain": 12,
        "capital-loss": 10,
        "hours-per-week": 14,
        "native-country": 42,
        "income-per-year": 2,
    }
    df = read_table(EXAMPLES / "adult.csv")
    enc = Encoder(schema)
    ds = enc.encode(df)
    assert ds.codes.shape == (32_561, 15)
    # the UCI file codes missing values as "?": they land on the missing code
    for name, n_missing in [
        ("workclass", 1836),
        ("occupation", 1843),
        ("native-country", 583),
    ]:
        col = ds.column(name)
        assert np.count_nonzero(col == schema.column(name).missing_code) == n_missing
    # education and education-num are one-to-one in the data
    pairs = set(
        zip(
            ds.column("education").tolist(),
            ds.column("education-num").tolist(),
            strict=True,
        )
    )
    assert pairs == {(k, k) for k in range(16)}
    # a decoded table encodes back to the same codes
    again = enc.encode(enc.decode(ds, rng=0))
    np.testing.assert_array_equal(again.codes, ds.codes)
