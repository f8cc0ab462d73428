"""A waiting replica's log says who leads, once per change (`LeaderNews`): looked at only
when the election node may have changed hands, never while the replica merely retries."""

from __future__ import annotations

from election.core import events as ev
from election.core.events import CreateFailure, Outcome
from election.core.record import Record
from election.observe.leader_news import LeaderNews
from election.observe.lookout import Sighting
from election_testkit.waiting import wait_until


def record(state: str, event: ev.Event, previous: str = "", token: int | None = None) -> Record:
    return Record(seq=1, at=0.0, wall=0.0, event=event, state=state, previous=previous, token=token)


TAKEN = ev.NodeCreated(request=5, outcome=Outcome.FAILED, failure=CreateFailure.NODE_EXISTS)
FIRED = ev.NodeWatchFired(path="/election/leader", kind="DELETED")


class Cluster:
    """Who holds the election node, as the lookout would see it; counts the looks."""

    def __init__(self) -> None:
        self.leader: Sighting = Sighting(replica="r1", token=7, problem="")
        self.looks = 0
        self.told: list[str] = []

    def look(self) -> Sighting:
        self.looks += 1
        return self.leader

    def news(self) -> LeaderNews:
        tell = lambda s: self.told.append(f"{s.replica} {s.token}")  # noqa: E731
        return LeaderNews(self.look, tell=tell, inline=True)


def test_a_waiting_replica_tells_who_leads_once_per_change() -> None:
    cluster = Cluster()
    news = cluster.news()
    news(record("Attempter", ev.PathEnsured(request=1, outcome=Outcome.OK), previous="Init"))
    news(record("Attempter", TAKEN))
    assert cluster.told == ["r1 7"]
    for _ in range(3):  # retries every attempter-timeout: no look, no line
        news(record("Attempter", ev.TimerFired(name="attempt", id=9)))
        news(record("Attempter", TAKEN))
    assert cluster.looks == 1
    # The leader's node went; the next try found it taken again: by r3, a new term.
    cluster.leader = Sighting(replica="r3", token=12, problem="")
    news(record("Attempter", FIRED))
    news(record("Attempter", TAKEN))
    assert cluster.told == ["r1 7", "r3 12"]
    # A watch that fired without the node changing hands: looked at, nothing to tell.
    news(record("Attempter", FIRED))
    news(record("Attempter", TAKEN))
    assert cluster.told == ["r1 7", "r3 12"] and cluster.looks == 3


def test_after_its_own_term_the_next_leader_is_news_even_if_it_led_before() -> None:
    cluster = Cluster()
    news = cluster.news()
    news(record("Attempter", ev.PathEnsured(request=1, outcome=Outcome.OK), previous="Init"))
    news(record("Attempter", TAKEN))
    news(record("Leader", ev.NodeCreated(request=6, outcome=Outcome.OK, token=9), "Attempter", 9))
    cluster.leader = Sighting(replica="r1", token=7, problem="")  # r1 again (odd, but news)
    news(record("Attempter", ev.NodeWatchFired(path="/x", kind="DELETED"), previous="Leader"))
    news(record("Attempter", TAKEN))
    assert cluster.told == ["r1 7", "r1 7"]


def test_nothing_is_told_when_the_look_fails_or_nobody_leads() -> None:
    cluster = Cluster()
    news = cluster.news()
    cluster.leader = Sighting(problem="not connected")
    news(record("Attempter", ev.PathEnsured(request=1, outcome=Outcome.OK), previous="Init"))
    news(record("Attempter", TAKEN))
    cluster.leader = Sighting(problem="")  # the node went meanwhile
    news(record("Attempter", FIRED))
    news(record("Attempter", TAKEN))
    assert cluster.told == [] and cluster.looks == 2


def test_the_thread_looks_when_asked_and_stops_on_close() -> None:
    cluster = Cluster()
    told = []
    news = LeaderNews(cluster.look, tell=lambda s: told.append(s.replica))
    news.start()
    news(record("Attempter", ev.PathEnsured(request=1, outcome=Outcome.OK), previous="Init"))
    news(record("Attempter", TAKEN))
    wait_until(lambda: told == ["r1"], 5, lambda: f"told {told}")
    news.close()
    assert not news._thread.is_alive()
