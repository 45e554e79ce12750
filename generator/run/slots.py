"""New-MR slots of one run, handed out in selection order before any generation.

The MR limits (`max_new_mrs`, `max_open_mrs`) are only worth something if they also cap the
LLM spend: a ticket that cannot get an MR must never reach the planner. So every ticket that
would open a new MR asks for a slot before generation, in selection order (the keys as given,
then the JQL order), and those past the limit wait.

A slot whose ticket ends without opening its MR (failed, or skipped late) goes to the first
waiting ticket, so a run still opens up to its limit when some tickets fail. This stays
deterministic: the tickets generated are always the shortest prefix of the waiting order that
fills the slots with successes, whatever order the failures happen in; only their start times
vary. Tickets still waiting at the end are skipped with the limit's reason.
"""

from __future__ import annotations

from collections import deque


class NewMrSlots:
    """Slots for new merge requests; `capacity` None means no limit (local publishing)."""

    def __init__(self, capacity: tuple[int, str] | None) -> None:
        self._free = None if capacity is None else capacity[0]
        self.reason = "" if capacity is None else capacity[1]
        self.waiting: deque[str] = deque()

    def take(self, key: str) -> bool:
        """Claim a slot for `key`, or queue it behind the earlier tickets."""
        if self._free is None:
            return True
        if self._free > 0:
            self._free -= 1
            return True
        self.waiting.append(key)
        return False

    def give_back(self) -> str | None:
        """A slot holder opened no MR: the next waiting ticket takes its slot (returned), if any."""
        if self._free is None:
            return None
        if self.waiting:
            return self.waiting.popleft()
        self._free += 1
        return None
