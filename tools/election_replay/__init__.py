"""`election-replay`: re-fold election journals through today's reducer and check them.

An engineer woken by an incident hands it the journals of the replicas involved; it
answers what each replica saw, which state it was in when, who led with which token,
whether two replicas ever led at once, and whether today's code would have done the same.

    segments.py    which given files are rotated segments of one journal, in order
    replay.py      fold each journal again and find its first divergence
    terms.py       leadership terms, hand-overs and state segments from the records
    invariants.py  the cross-replica safety checks over the merged journals
    timeline.py    the text Gantt of states across replicas
    report.py      the human (rich) report, the JSON object and the SVG/HTML picture
    cli.py         the `election-replay` command
"""

from election_replay.model import Analysis, Divergence, Handover, Term, Violation
from election_replay.replay import ReplayError, analyse

__all__ = [
    "Analysis",
    "Divergence",
    "Handover",
    "ReplayError",
    "Term",
    "Violation",
    "analyse",
]
