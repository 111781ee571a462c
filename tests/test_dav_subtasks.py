"""CalDAV's `RELATED-TO;RELTYPE=PARENT` and the task's `parent_id`, both ways, on every
backend: a parent set on either side shows on the other, a child uploaded before its parent
keeps its relation as sent, and the rules of parents (same list, four levels, no cycles)
hold over CalDAV as RFC 4791 preconditions."""

from __future__ import annotations

from typing import Any

import httpx
from icalendar import Calendar

from tests.conftest import ApiUser, TaskFactory
from tests.dav_support import Dav, todo


def related(text: str) -> list[tuple[str, str]]:
    """(RELTYPE, UID) of each RELATED-TO of the VTODO, RELTYPE as written ('' if none)."""
    component = Calendar.from_ical(text).walk("VTODO")[0]
    value = component.get("RELATED-TO")
    values = [] if value is None else value if isinstance(value, list) else [value]
    return [(str(item.params.get("RELTYPE", "")), str(item)) for item in values]


async def rest_tasks(client: httpx.AsyncClient, user: ApiUser) -> dict[str, dict[str, Any]]:
    items = (await client.get("/tasks", headers=user.headers)).json()["items"]
    return {item["title"]: item for item in items}


async def test_a_rest_parent_is_written_as_related_to_with_the_parents_uid(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    parent = await create_task(alice, title="Plan the trip")
    child = await create_task(alice, title="Book flights", parent_id=parent["id"])
    got = await dav.request("GET", f"{collection}{child['id']}.ics")
    assert got.status_code == 200, got.text
    assert related(got.text) == [("PARENT", parent["id"])]
    assert "RELATED-TO;RELTYPE=PARENT:" in got.text
    # A parent a client made is named by the client's UID.
    assert (await dav.put(f"{collection}p.ics", todo("client-parent", summary="P"))).is_success
    tasks = await rest_tasks(client, alice)
    sub = await create_task(alice, title="Sub", parent_id=tasks["P"]["id"])
    got = await dav.request("GET", f"{collection}{sub['id']}.ics")
    assert related(got.text) == [("PARENT", "client-parent")]
    top = await dav.request("GET", f"{collection}{parent['id']}.ics")
    assert "RELATED-TO" not in top.text


async def test_related_to_sets_the_parent_with_or_without_reltype(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (await dav.put(f"{collection}p.ics", todo("p-uid", summary="Parent"))).status_code == 201
    child = todo("c-uid", "RELATED-TO;RELTYPE=PARENT:p-uid", summary="Child")
    assert (await dav.put(f"{collection}c.ics", child)).status_code == 201
    # RFC 5545: RELATED-TO without RELTYPE names the parent.
    bare = todo("b-uid", "RELATED-TO:c-uid", summary="Grandchild")
    assert (await dav.put(f"{collection}b.ics", bare)).status_code == 201
    rest_parent = await create_task(alice, title="REST parent")
    upper = todo("u-uid", f"RELATED-TO:{rest_parent['id'].upper()}", summary="Under REST")
    assert (await dav.put(f"{collection}u.ics", upper)).status_code == 201
    tasks = await rest_tasks(client, alice)
    assert tasks["Child"]["parent_id"] == tasks["Parent"]["id"]
    assert tasks["Grandchild"]["parent_id"] == tasks["Child"]["id"]
    assert tasks["Under REST"]["parent_id"] == rest_parent["id"]
    children = await client.get(
        "/tasks", params={"parent_id": tasks["Parent"]["id"]}, headers=alice.headers
    )
    assert [item["title"] for item in children.json()["items"]] == ["Child"]
    # Each comes back as its client wrote it.
    assert "RELATED-TO:c-uid" in (await dav.request("GET", f"{collection}b.ics")).text
    got = (await dav.request("GET", f"{collection}u.ics")).text
    assert f"RELATED-TO:{rest_parent['id'].upper()}" in got


async def test_a_child_before_its_parent_stays_top_level_and_keeps_its_relation(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    child = todo("kid", "RELATED-TO;RELTYPE=PARENT:not-yet", summary="Kid")
    assert (await dav.put(f"{collection}kid.ics", child)).status_code == 201
    kid = (await rest_tasks(client, alice))["Kid"]
    assert kid["parent_id"] is None
    assert related((await dav.request("GET", f"{collection}kid.ics")).text) == [
        ("PARENT", "not-yet")
    ]
    # A REST edit of another field keeps the relation the client sent.
    patched = await client.patch(
        f"/tasks/{kid['id']}", json={"title": "Kid renamed"}, headers=alice.headers
    )
    assert patched.status_code == 200
    got = (await dav.request("GET", f"{collection}kid.ics")).text
    assert related(got) == [("PARENT", "not-yet")]
    assert "SUMMARY:Kid renamed" in got
    # The parent arrives: the child becomes its subtask, its text still as the client sent it.
    assert (await dav.put(f"{collection}p.ics", todo("not-yet", summary="Late"))).status_code == 201
    tasks = await rest_tasks(client, alice)
    assert tasks["Kid renamed"]["parent_id"] == tasks["Late"]["id"]
    assert related((await dav.request("GET", f"{collection}kid.ics")).text) == [
        ("PARENT", "not-yet")
    ]
    assert (await dav.put(f"{collection}kid.ics", child)).status_code == 204
    assert (await rest_tasks(client, alice))["Kid"]["parent_id"] == tasks["Late"]["id"]


async def test_children_uploaded_first_are_adopted_unless_too_deep(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    # Children first, as a sync may send them; one names the parent without RELTYPE, one
    # only mentions its UID in a description, one relates to it as a sibling.
    uploads = {
        "a": todo("a", "RELATED-TO:top", summary="A"),
        "b": todo("b", "RELATED-TO;RELTYPE=PARENT:top", summary="B"),
        "c": todo("c", "DESCRIPTION:see top", summary="C"),
        "d": todo("d", "RELATED-TO;RELTYPE=SIBLING:top", summary="D"),
        "e": todo("e", "RELATED-TO:TOP", summary="E"),
    }
    for name, text in uploads.items():
        assert (await dav.put(f"{collection}{name}.ics", text)).status_code == 201
    assert (await dav.put(f"{collection}top.ics", todo("top", summary="Top"))).status_code == 201
    tasks = await rest_tasks(client, alice)
    parents = {title: task["parent_id"] for title, task in tasks.items()}
    top = tasks["Top"]["id"]
    assert parents == {"A": top, "B": top, "C": None, "D": None, "E": None, "Top": None}
    # A chain uploaded without its root m1, which then arrives as the fourth level: m2
    # under it would be a fifth, so m2 stays top-level, with m3 under it as before.
    for uid, parent in [("m2", "m1"), ("m3", "m2")]:
        text = todo(uid, f"RELATED-TO:{parent}", summary=uid)
        assert (await dav.put(f"{collection}{uid}.ics", text)).status_code == 201
    assert (
        await dav.put(f"{collection}a2.ics", todo("a2", "RELATED-TO:a", summary="a2"))
    ).status_code == 201
    deep = todo("m1", "RELATED-TO:a2", summary="m1")
    assert (await dav.put(f"{collection}m1.ics", deep)).status_code == 201
    tasks = await rest_tasks(client, alice)
    # Top > A > a2 > m1.
    assert tasks["m1"]["parent_id"] == tasks["a2"]["id"]
    assert tasks["m2"]["parent_id"] is None
    assert tasks["m3"]["parent_id"] == tasks["m2"]["id"]


async def test_a_parent_elsewhere_is_unknown_here(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (await dav.mkcalendar("other", "Other")).status_code == 201
    assert (await dav.put(f"{dav.home}other/o.ics", todo("o-uid", summary="O"))).is_success
    bobs = await create_task(bob, title="Bob's")
    for number, uid in enumerate(["o-uid", bobs["id"]]):
        text = todo(f"x{number}", f"RELATED-TO:{uid}", summary=f"X{number}")
        assert (await dav.put(f"{collection}x{number}.ics", text)).status_code == 201
    tasks = await rest_tasks(client, alice)
    assert tasks["X0"]["parent_id"] is None
    assert tasks["X1"]["parent_id"] is None
    assert (await client.get(f"/tasks/{bobs['id']}", headers=bob.headers)).json()["etag"] == bobs[
        "etag"
    ]


async def test_rest_changes_of_the_parent_show_and_other_relations_stay(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    first = await create_task(alice, title="First")
    second = await create_task(alice, title="Second")
    text = todo("c", f"RELATED-TO;RELTYPE=PARENT:{first['id']}", "RELATED-TO;RELTYPE=SIBLING:s-1")
    assert (await dav.put(f"{collection}c.ics", text)).status_code == 201
    child = (await rest_tasks(client, alice))["Buy milk"]
    assert child["parent_id"] == first["id"]
    moved = await client.patch(
        f"/tasks/{child['id']}", json={"parent_id": second["id"]}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    got = (await dav.request("GET", f"{collection}c.ics")).text
    assert sorted(related(got)) == [("PARENT", second["id"]), ("SIBLING", "s-1")]
    top = await client.patch(
        f"/tasks/{child['id']}", json={"parent_id": None}, headers=alice.headers
    )
    assert top.status_code == 200
    assert related((await dav.request("GET", f"{collection}c.ics")).text) == [("SIBLING", "s-1")]


async def test_a_put_without_related_to_makes_the_task_top_level(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    parent = await create_task(alice, title="Parent")
    text = todo("c", f"RELATED-TO:{parent['id']}", summary="Child")
    assert (await dav.put(f"{collection}c.ics", text)).status_code == 201
    before = (await rest_tasks(client, alice))["Child"]
    # The same parent again: the task keeps its place among its siblings.
    again = text.replace("SUMMARY:Child", "SUMMARY:Child again")
    assert (await dav.put(f"{collection}c.ics", again)).status_code == 204
    after = (await rest_tasks(client, alice))["Child again"]
    assert (after["parent_id"], after["position"]) == (parent["id"], before["position"])
    assert (await dav.put(f"{collection}c.ics", todo("c", summary="Alone"))).status_code == 204
    assert (await rest_tasks(client, alice))["Alone"]["parent_id"] is None


async def test_a_cycle_or_a_fifth_level_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    chain = ["l1", "l2", "l3", "l4"]
    for level, uid in enumerate(chain):
        lines = [] if level == 0 else [f"RELATED-TO:{chain[level - 1]}"]
        assert (await dav.put(f"{collection}{uid}.ics", todo(uid, *lines, summary=uid))).is_success
    before = await rest_tasks(client, alice)
    assert before["l4"]["parent_id"] == before["l3"]["id"]
    attempts = {
        "l1": todo("l1", "RELATED-TO:l3", summary="l1"),  # its own grandchild
        "l2": todo("l2", "RELATED-TO:l2", summary="l2"),  # itself
    }
    for name, text in attempts.items():
        response = await dav.put(f"{collection}{name}.ics", text)
        assert response.status_code == 403, response.text
        assert b"valid-calendar-object-resource" in response.content
        assert b"parent_id" in response.content
    fifth = await dav.put(f"{collection}l5.ics", todo("l5", "RELATED-TO:l4", summary="l5"))
    assert fifth.status_code == 403, fifth.text
    assert b"levels" in fifth.content
    assert await rest_tasks(client, alice) == before
    assert "RELATED-TO" not in (await dav.request("GET", f"{collection}l1.ics")).text


async def test_odd_parent_uids_are_unknown_parents_and_never_a_5xx(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    odd = ["x" * 1000, "p%", "p_", "%", "urn:uuid:0", "{00000000-0000-0000-0000-000000000000}"]
    for number, uid in enumerate(odd):
        text = todo(f"o{number}", f"RELATED-TO:{uid}", summary=f"O{number}")
        response = await dav.put(f"{collection}o{number}.ics", text)
        assert response.status_code == 201, (uid, response.text)
        got = (await dav.request("GET", f"{collection}o{number}.ics")).text
        assert uid in got.replace("\r\n ", "")
    named = todo("c", "RELATED-TO:p%_", summary="Named")
    assert (await dav.put(f"{collection}c.ics", named)).status_code == 201
    # A UID with SQL's wildcards in it: only the child naming it exactly is adopted.
    assert (await dav.put(f"{collection}p.ics", todo("p%_", summary="Wild"))).status_code == 201
    tasks = await rest_tasks(client, alice)
    parents = {title: task["parent_id"] for title, task in tasks.items()}
    assert parents == {
        **{f"O{number}": None for number in range(len(odd))},
        "Named": tasks["Wild"]["id"],
        "Wild": None,
    }
