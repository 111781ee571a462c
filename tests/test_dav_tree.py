"""CalDAV discovery, collections and their properties, through HTTP on every backend."""

from __future__ import annotations

import httpx

from tests.conftest import ApiUser, assert_problem
from tests.dav_support import CS, C, D, Dav, list_names, multistatus


async def test_well_known_redirects_to_the_dav_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/caldav")
    assert response.status_code == 301
    assert response.headers["location"] == "/dav/"


async def test_options_advertises_calendar_access(client: httpx.AsyncClient) -> None:
    response = await client.options("/dav/")
    assert response.status_code == 200
    assert response.headers["dav"] == "1, 3, calendar-access"
    assert "REPORT" in response.headers["allow"]


async def test_no_credentials_is_401_with_the_basic_challenge(client: httpx.AsyncClient) -> None:
    response = await client.request("PROPFIND", "/dav/", headers={"Depth": "0"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Basic realm="todo-api", charset="UTF-8"'
    basic = {"Authorization": "Basic dXNlcjpwYXNzd29yZA==", "Depth": "0"}
    response = await client.request("PROPFIND", "/dav/", headers=basic)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic realm=")


async def test_discovery_from_the_root_to_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    root = multistatus(await dav.propfind("/dav/", f"{D}current-user-principal"))
    principal = root.prop("/dav/", f"{D}current-user-principal")
    assert principal is not None
    principal_href = principal.findtext(f"{D}href")
    assert principal_href == f"/dav/principals/{alice.sub}/"
    found = multistatus(await dav.propfind(principal_href, f"{C}calendar-home-set"))
    home = found.prop(principal_href, f"{C}calendar-home-set")
    assert home is not None
    assert home.findtext(f"{D}href") == dav.home
    listing = multistatus(
        await dav.propfind(
            dav.home,
            f"{D}resourcetype",
            f"{D}displayname",
            f"{CS}getctag",
            f"{D}sync-token",
            f"{C}supported-calendar-component-set",
            f"{D}supported-report-set",
            f"{D}current-user-privilege-set",
            depth="1",
        )
    )
    lists = (await client.get("/lists", headers=alice.headers)).json()["items"]
    href = f"{dav.home}{lists[0]['id']}/"
    assert listing.hrefs() == [dav.home, href]
    assert listing.prop(href, f"{D}displayname").text == "Tasks"  # type: ignore[union-attr]
    kinds = listing.prop(href, f"{D}resourcetype")
    assert kinds is not None
    assert kinds.find(f"{C}calendar") is not None
    components = listing.prop(href, f"{C}supported-calendar-component-set")
    assert [comp.get("name") for comp in components] == ["VTODO"]  # type: ignore[union-attr]
    reports = listing.prop(href, f"{D}supported-report-set")
    assert reports is not None
    assert reports.find(f".//{D}sync-collection") is not None
    assert listing.prop(href, f"{CS}getctag") is not None
    assert listing.prop(href, f"{D}sync-token") is not None


async def test_depth_infinity_is_refused(client: httpx.AsyncClient, alice: ApiUser) -> None:
    dav = Dav(client, alice)
    response = await dav.propfind(dav.home, f"{D}resourcetype", depth="infinity")
    assert response.status_code == 403
    assert b"propfind-finite-depth" in response.content


async def test_another_users_home_is_403(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    response = await Dav(client, alice).propfind(f"/dav/calendars/{bob.sub}/", f"{D}resourcetype")
    assert_problem(response, 403)
    response = await Dav(client, alice).propfind(f"/dav/principals/{bob.sub}/", f"{D}resourcetype")
    assert_problem(response, 403)


async def test_mkcalendar_makes_a_list_at_the_clients_address(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    response = await dav.mkcalendar("groceries-1", "Groceries")
    assert response.status_code == 201, response.text
    lists = (await client.get("/lists", headers=alice.headers)).json()["items"]
    assert [item["name"] for item in lists] == ["Tasks", "Groceries"]
    found = multistatus(await dav.propfind(f"{dav.home}groceries-1/", f"{D}displayname"))
    assert found.prop("/groceries-1/", f"{D}displayname").text == "Groceries"  # type: ignore[union-attr]
    again = await dav.mkcalendar("groceries-1", "Other")
    assert again.status_code == 403
    assert b"resource-must-be-null" in again.content


async def test_proppatch_renames_and_delete_deletes_the_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    assert (await dav.mkcalendar("work", "Work")).status_code == 201
    body = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Office</D:displayname></D:prop></D:set></D:propertyupdate>"
    )
    found = multistatus(await dav.request("PROPPATCH", f"{dav.home}work/", body))
    assert "200" in (found.response("/work/").findtext(f"{D}propstat/{D}status") or "")
    names = await list_names(client, alice)
    assert names == ["Tasks", "Office"]
    response = await dav.request("DELETE", f"{dav.home}work/")
    assert response.status_code == 204
    names = await list_names(client, alice)
    assert names == ["Tasks"]
    missing = await dav.propfind(f"{dav.home}work/", f"{D}displayname")
    assert_problem(missing, 404)


async def test_proppatch_of_a_protected_property_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    assert (await dav.mkcalendar("home", "Home")).status_code == 201
    body = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Elsewhere</D:displayname><D:getetag>x</D:getetag>"
        "</D:prop></D:set></D:propertyupdate>"
    )
    found = multistatus(await dav.request("PROPPATCH", f"{dav.home}home/", body))
    statuses = [s.text or "" for s in found.response("/home/").iter(f"{D}status")]
    assert any("403" in status for status in statuses)
    assert any("424" in status for status in statuses)
    assert sorted(await list_names(client, alice)) == ["Home", "Tasks"]


async def test_calendar_colour_and_order_are_kept(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    apple = "http://apple.com/ns/ical/"
    made = await dav.request(
        "MKCALENDAR",
        f"{dav.home}colours/",
        '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
        f'xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="{apple}"><D:set><D:prop>'
        "<D:displayname>Colours</D:displayname><A:calendar-color>#FF0000FF</A:calendar-color>"
        "</D:prop></D:set></C:mkcalendar>",
    )
    assert made.status_code == 201
    body = (
        f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:A="{apple}"><D:set>'
        "<D:prop><A:calendar-order>7</A:calendar-order></D:prop></D:set></D:propertyupdate>"
    )
    found = multistatus(await dav.request("PROPPATCH", f"{dav.home}colours/", body))
    assert "200" in (found.response("/colours/").findtext(f"{D}propstat/{D}status") or "")
    wanted = (f"{{{apple}}}calendar-color", f"{{{apple}}}calendar-order", f"{D}displayname")
    listing = multistatus(await dav.propfind(f"{dav.home}colours/", *wanted))
    colour = listing.prop("/colours/", f"{{{apple}}}calendar-color")
    order = listing.prop("/colours/", f"{{{apple}}}calendar-order")
    assert colour is not None
    assert colour.text == "#FF0000FF"
    assert order is not None
    assert order.text == "7"
    remove = (
        f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:A="{apple}"><D:remove>'
        "<D:prop><A:calendar-color/></D:prop></D:remove></D:propertyupdate>"
    )
    assert (await dav.request("PROPPATCH", f"{dav.home}colours/", remove)).status_code == 207
    listing = multistatus(await dav.propfind(f"{dav.home}colours/", *wanted))
    assert listing.prop("/colours/", f"{{{apple}}}calendar-color") is None
    assert await list_names(client, alice) == ["Tasks", "Colours"]


async def test_malformed_and_hostile_xml_is_400(client: httpx.AsyncClient, alice: ApiUser) -> None:
    dav = Dav(client, alice)
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><propfind xmlns="DAV:">&lol2;</propfind>'
    )
    for body in ("<propfind", bomb, '<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>'):
        response = await dav.request("PROPFIND", dav.home, body, Depth="0")
        assert_problem(response, 400)


async def test_metrics_name_dav_methods_and_route_templates(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    await dav.propfind(dav.home, f"{D}resourcetype", depth="1")
    text = (await client.get("/metrics")).text
    assert 'method="PROPFIND",route="/dav/calendars/{user}/",status="207"' in text
    assert alice.sub not in text
