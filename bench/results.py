"""What a benchmark hands back to the report, and the error it raises when it cannot run."""

import dataclasses


@dataclasses.dataclass
class Target:
    """One SPEC §7 target: what was measured against what was wanted."""

    benchmark: str
    what: str
    measured: str
    wanted: str
    met: bool


@dataclasses.dataclass
class Outcome:
    """A benchmark's report section and its targets."""

    section: str
    targets: list[Target]


class BenchError(Exception):
    """Something the benchmark needs did not work (a server, a download, a tool)."""
