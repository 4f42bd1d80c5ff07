"""order-select comments on the selected orders only; order-sign on every draft."""

from __future__ import annotations

import requests

from support.requests import order_select_request, order_sign_request, vincristine_order

IT = vincristine_order(mid="mr-it", route_code="72607000", route_display="Intrathecal route")
IV = vincristine_order(mid="mr-iv", dose_mg=1.2)


def _orders_with_cards(response):
    assert response.status_code == 200, response.text
    return {ref for c in response.json()["cards"] for ref in c["extension"]["all-cds"]["orders"]}


def test_order_select_checks_only_the_selection(live_service):
    with live_service() as base:
        body = order_select_request(orders=[IV, IT])
        body["context"]["selections"] = ["MedicationRequest/mr-iv"]
        quiet = requests.post(base + "/cds-services/all-order-select", json=body, timeout=10)
        body["context"]["selections"] = ["MedicationRequest/mr-it"]
        loud = requests.post(base + "/cds-services/all-order-select", json=body, timeout=10)
    assert _orders_with_cards(quiet) <= {"MedicationRequest/mr-iv"}
    assert not any(c["source"]["topic"]["code"] == "route" for c in quiet.json()["cards"])
    route = [c for c in loud.json()["cards"] if c["source"]["topic"]["code"] == "route"]
    assert [c["extension"]["all-cds"]["orders"] for c in route] == [["MedicationRequest/mr-it"]]
    assert route[0]["indicator"] == "critical" and "vincristine" in route[0]["summary"].lower()


def test_order_sign_checks_every_draft(live_service):
    with live_service() as base:
        response = requests.post(base + "/cds-services/all-order-sign", json=order_sign_request(orders=[IV, IT]), timeout=10)
    assert {"MedicationRequest/mr-iv", "MedicationRequest/mr-it"} <= _orders_with_cards(response)
    route = [c for c in response.json()["cards"] if c["source"]["topic"]["code"] == "route"]
    assert len(route) == 1 and route[0]["extension"]["all-cds"]["orders"] == ["MedicationRequest/mr-it"]
