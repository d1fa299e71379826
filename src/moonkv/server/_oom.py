"""``oom-score-adj``: the kernel's OOM score of the process, as Redis's setOOMScoreAdj (Linux).

``oom-score-adj-values`` holds three scores: a primary's, a replica's and a background child's.
With ``oom-score-adj yes`` (or ``relative``) the process writes the score of its role plus the
score it had before moonkv first changed it to /proc/self/oom_score_adj; with ``absolute``, the
score itself (either clamped to [-1000, 1000]); set back to ``no``, the score it had before. A
score the kernel refuses (lowering it needs CAP_SYS_RESOURCE) fails the CONFIG SET, which then
changes nothing. A role change (REPLICAOF) applies at once (``Server.on_role_change``).
"""

from __future__ import annotations

import logging
from typing import Final

from moonkv.engine import Config
from moonkv.errors import RespError

log = logging.getLogger("moonkv")

_PATH: Final = "/proc/self/oom_score_adj"
PRIMARY: Final = 0
REPLICA: Final = 1


class OomScore:
    """Keeps /proc/self/oom_score_adj at what the configuration and the role ask for."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.base: int | None = None  # the score before moonkv first changed it
        self.role = PRIMARY
        config.on_change(self._changed)

    def _changed(self, name: str, value: object) -> None:
        if name in ("oom-score-adj", "oom-score-adj-values") and not self.apply():
            raise RespError(f"CONFIG SET failed (possibly related to argument '{name}') - "
                            "Failed to set current oom_score_adj. Check server logs.")

    def set_role(self, role: int) -> None:
        if role != self.role:
            self.role = role
            self.apply()

    def apply(self) -> bool:
        """Write the score now due; False (logged) when /proc refuses it."""
        mode = self.config["oom-score-adj"]
        if mode != "no":
            if self.base is None:
                try:
                    with open(_PATH) as f:
                        self.base = int(f.read())
                except (OSError, ValueError) as e:
                    log.warning("Unable to read oom_score_adj: %s", e)
                    return False
            val = self.config["oom-score-adj-values"][self.role]
            if mode != "absolute":
                val += self.base
            val = max(-1000, min(1000, val))
        elif self.base is not None:
            val, self.base = self.base, None
        else:
            return True
        try:
            with open(_PATH, "w") as f:
                f.write(f"{val}\n")
        except OSError as e:
            log.warning("Unable to write oom_score_adj: %s", e.strerror)
            return False
        return True
