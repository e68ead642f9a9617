"""A synthetic churn dataset, generated deterministically: what the first execution trains on.

The shape follows the widely used synthetic telecom churn data (label `Churn?` with `True.`/`False.`,
a `Phone` identifier column, day/evening/night/international usage, customer-service calls), but
every value comes from this file: no real customer, no downloaded data. License: CC0-1.0 (public
domain dedication); see docs/data.md.

Churn has a real, known signal (an international plan, many customer-service calls and heavy
daytime use raise it; a voicemail plan lowers it), so a model trained on it beats the approval
threshold and the same data with shuffled labels does not.

Only `random.Random(seed).random()` is used: Python guarantees that sequence for a given seed across
versions, so the bytes are the same on every machine (a test pins their digest).

    python -m pipeline_def sample-data --out churn.csv
"""
from __future__ import annotations

import csv
import functools
import io
import math
import random

from infra.config.names import SAMPLE_INPUT_FILE

DEFAULT_ROWS = 5000
DEFAULT_SEED = 20261127
LICENSE = "CC0-1.0"

# The pipeline's dataset parameters default to what fits this data (pipeline_def.pipeline).
TARGET_COLUMN = "Churn?"
POSITIVE_VALUES = ("True.",)
DROP_COLUMNS = ("Phone",)
FILE_NAME = SAMPLE_INPUT_FILE  # the one input key the upsert build may write (infra/iam/runtime/builds.py)

STATES = (
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NH NJ NM NV NY "
    "OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
).split()
AREA_CODES = (408, 415, 510)
COLUMNS = (
    "State", "Account Length", "Area Code", "Phone", "Int'l Plan", "VMail Plan", "VMail Message",
    "Day Mins", "Day Calls", "Day Charge", "Eve Mins", "Eve Calls", "Eve Charge",
    "Night Mins", "Night Calls", "Night Charge", "Intl Mins", "Intl Calls", "Intl Charge",
    "CustServ Calls", TARGET_COLUMN,
)


class _Draw:
    """Distributions built on random() alone (the one method whose sequence Python guarantees)."""

    def __init__(self, seed: int):
        self._random = random.Random(seed)

    def uniform(self) -> float:
        return self._random.random()

    def normal(self, mean: float, sd: float) -> float:
        u1 = 1.0 - self.uniform()  # (0, 1]: log() is defined
        u2 = self.uniform()
        return mean + sd * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def poisson(self, lam: float) -> int:
        limit, k, p = math.exp(-lam), 0, self.uniform()
        while p > limit:
            k += 1
            p *= self.uniform()
        return k

    def choice(self, options):
        return options[min(int(self.uniform() * len(options)), len(options) - 1)]

    def bernoulli(self, p: float) -> bool:
        return self.uniform() < p


def _usage(draw: _Draw, mean: float, sd: float) -> float:
    return round(max(0.0, draw.normal(mean, sd)), 1)


def rows(n: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> list[tuple]:
    draw = _Draw(seed)
    out = []
    phones: set[str] = set()
    for _ in range(n):
        intl_plan = draw.bernoulli(0.10)
        vmail_plan = draw.bernoulli(0.27)
        day, eve, night, intl = _usage(draw, 180, 54), _usage(draw, 200, 50), _usage(draw, 200, 50), _usage(draw, 10, 2.8)
        service_calls = draw.poisson(1.6)
        phone = f"{draw.choice(('3', '4'))}{int(draw.uniform() * 100):02d}-{int(draw.uniform() * 10000):04d}"
        while phone in phones:  # an identifier: unique, as in the data this imitates
            phone = f"{phone[:3]}-{int(draw.uniform() * 10000):04d}"
        phones.add(phone)
        logit = (-3.0 + 2.6 * intl_plan - 1.3 * vmail_plan + 1.3 * max(0, service_calls - 3)
                 + 0.03 * (day - 180) + 0.01 * (eve - 200) + 0.12 * (intl - 10))
        churn = draw.bernoulli(1.0 / (1.0 + math.exp(-logit)))
        out.append((
            draw.choice(STATES), 1 + int(draw.uniform() * 240), draw.choice(AREA_CODES), phone,
            "yes" if intl_plan else "no", "yes" if vmail_plan else "no",
            max(0, int(draw.normal(29, 8))) if vmail_plan else 0,
            day, draw.poisson(100), round(day * 0.17, 2),
            eve, draw.poisson(100), round(eve * 0.085, 2),
            night, draw.poisson(100), round(night * 0.045, 2),
            intl, draw.poisson(4.5), round(intl * 0.27, 2),
            service_calls, "True." if churn else "False.",
        ))
    return out


@functools.lru_cache(maxsize=4)  # pure and about a second of CPU: one generation per process (tests call it often)
def csv_bytes(n: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED) -> bytes:
    """The dataset as CSV with a header row (UTF-8, \\n line ends): what the upsert uploads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(n, seed))
    return buffer.getvalue().encode("utf-8")
