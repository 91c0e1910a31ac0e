import random
import re

import pytest

from berth.daemon import names
from berth.errors import InvalidArgument


def test_generated_names_have_dockers_shape():
    rng = random.Random(1)
    for _ in range(200):
        assert re.fullmatch(r"[a-z]+_[a-z]+", names.generate(0, rng))
    assert re.fullmatch(r"[a-z]+_[a-z]+\d", names.generate(1, rng))


def test_validate():
    assert names.validate("/web-1.a_b") == "web-1.a_b"
    for bad in ("", "a", "-x", "a b", "x/y"):
        with pytest.raises(InvalidArgument, match="Invalid container name"):
            names.validate(bad)
